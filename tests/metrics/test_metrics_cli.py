"""`gankit eval`, `gankit extractor ...` and metrics.jsonl written during training."""

import json

import numpy as np
import pytest
import torch
from tests.conftest import TINY_TOY

from gankit.cli import main
from gankit.data import from_unit_range, load_dataset
from gankit.metrics import classifier as clf
from gankit.runs import RunDir


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


def sets(d):
    return [a for k, v in d.items() for a in ("--set", f"{k}={v}")]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(clf.DEFAULT_EPOCHS, "digits", 2)  # quick classifiers for the CLI tests
    return tmp_path / "cache"


@pytest.fixture
def digits_npy(tmp_path):
    path = tmp_path / "digits.npy"
    np.save(path, from_unit_range(load_dataset("digits", split="test").x[:200]).numpy())
    return path


def test_extractor_train_list_and_eval(capsys, cache, digits_npy):
    code, out, _ = run_cli(capsys, "extractor", "list")
    assert code == 0 and "domain:digits" in out and "not trained" in out
    code, out, _ = run_cli(capsys, "extractor", "train", "digits", "--quiet")
    assert code == 0 and "test accuracy" in out
    assert (cache / "extractors" / "digits" / "classifier.json").is_file()
    code, out, _ = run_cli(capsys, "extractor", "train", "digits")
    assert code == 0 and "already trained" in out
    code, out, _ = run_cli(capsys, "extractor", "list")
    assert "hash" in out
    code, out, _ = run_cli(
        capsys,
        "eval",
        digits_npy,
        "--reference",
        "digits:train",
        "--metrics",
        "fid,kid",
        "--n",
        200,
    )
    assert code == 0
    result = json.loads(out)
    assert result["extractor"] == "domain:digits" and result["n"] == 200
    assert set(result) >= {"fid", "kid", "kid_std", "source", "reference", "n_reference"}
    assert "precision" not in result


def test_eval_without_classifier_refused_on_request_is_one_line(capsys, cache, digits_npy):
    code, _, err = run_cli(
        capsys, "eval", digits_npy, "--reference", "digits:test", "--no-train-extractor"
    )
    assert_one_line_error(code, err, "gankit extractor train digits")
    assert not clf.is_cached("digits")


def test_eval_trains_the_missing_classifier_on_first_use(capsys, cache, digits_npy):
    code, out, err = run_cli(capsys, "eval", digits_npy, "--reference", "digits", "--n", 200)
    assert code == 0 and json.loads(out)["classes_covered"] >= 1
    notices = [ln for ln in err.splitlines() if ln.startswith("gankit:")]
    assert len(notices) == 1 and "training it once" in notices[0], err
    assert clf.is_cached("digits")
    code, _, err = run_cli(capsys, "eval", digits_npy, "--reference", "digits", "--n", 200)
    assert code == 0 and "training it once" not in err  # cached: no second training


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--metrics", "fdi"], "unknown metric 'fdi'"),
        (["--reference", "nowhere"], "unknown reference"),
        (["--extractor", "inception:/no/such/file.pth", "--reference", "digits"], "not found"),
    ],
)
def test_eval_user_errors(capsys, cache, digits_npy, args, needle):
    code, _, err = run_cli(capsys, "eval", digits_npy, *args)
    assert_one_line_error(code, err, needle)


def test_eval_of_a_missing_source(capsys, cache, tmp_path):
    code, _, err = run_cli(capsys, "eval", tmp_path / "nothing.txt", "--reference", "ring")
    assert_one_line_error(code, err, "not a run directory")


def _train(capsys, run, steps, extra):
    return run_cli(
        capsys,
        "train",
        "toy-ring",
        "--out",
        run,
        "--steps",
        steps,
        "--quiet",
        *sets({**TINY_TOY, **extra}),
    )


def test_training_writes_metrics_jsonl_and_resume_replaces_replayed_steps(capsys, tmp_path):
    extra = {"eval.metrics": "fid,mode_coverage", "eval.every": 10, "eval.n": 200}
    run = tmp_path / "R"
    assert _train(capsys, run, 20, extra)[0] == 0
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [10, 20]
    assert all({"fid", "modes_captured", "num_modes"} <= set(r) for r in lines)
    assert run_cli(capsys, "resume", run, "--steps", 30, "--quiet")[0] == 0
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30]
    # Evaluating draws from its own RNG: the run trains exactly as one without metrics.
    plain = tmp_path / "P"
    assert _train(capsys, plain, 20, {})[0] == 0
    a = RunDir(tmp_path / "R").load_checkpoint(run / "checkpoints" / "ckpt_00000020.safetensors")
    b = RunDir(plain).load_checkpoint()
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in b.tensors if k.startswith("G."))


def test_metrics_at_the_end_only(capsys, tmp_path):
    run = tmp_path / "E"
    assert _train(capsys, run, 12, {"eval.metrics": "fid", "eval.n": 100})[0] == 0
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [12]


@pytest.mark.parametrize(
    "extra, needle",
    [
        ({"eval.metrics": "fid", "eval.every": 7}, "multiple of log.stats_every"),
        ({"eval.metrics": "fid,bogus"}, "unknown metric 'bogus'"),
        ({"eval.metrics": "fid", "eval.extractor": "domain:fashion-mnist"}, "extractor train"),
    ],
)
def test_bad_eval_config_fails_before_training(capsys, cache, tmp_path, extra, needle):
    run = tmp_path / "B"
    code, _, err = _train(capsys, run, 10, extra)
    assert_one_line_error(code, err, needle)
    assert not list((run / "checkpoints").glob("*.safetensors"))


def test_eval_keys_are_listed(capsys):
    code, out, _ = run_cli(capsys, "list", "--keys")
    assert code == 0 and "eval.metrics" in out and "eval.every" in out
    code, out, _ = run_cli(capsys, "list")
    assert "domain:fashion-mnist" in out and "memorization" in out


@pytest.mark.parametrize("preset", ["cgan-digits", "infogan-digits"])
def test_metrics_during_training_of_conditional_variants(preset, tmp_path):
    """G(z | y) and G(z, c) are sampled with labels / codes from their priors."""
    from tests.conftest import TINY_DCGAN

    from gankit import api

    extra = {"eval.metrics": "fid", "eval.extractor": "raw", "eval.n": 64}
    run = api.train(preset, tmp_path / "r", steps=5, overrides={**TINY_DCGAN, **extra})
    (record,) = [json.loads(x) for x in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert record["step"] == 5 and np.isfinite(record["fid"]) and record["fid"] > 0
