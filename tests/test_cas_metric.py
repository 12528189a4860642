"""CAS as the registered metric ``cas``: ``gankit eval RUN --metrics cas`` on a conditional run
gives the number classification_accuracy_score gives with the same settings and seed; an
unconditional run, an unlabelled reference and a reference without a test split are one
clear line each."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import api
from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import DataError
from gankit.metrics import compute_metric, get_metric, metric_names
from gankit.metrics.cas import DEFAULTS, classification_accuracy_score, run_inputs
from gankit.metrics.registry import CONDITIONAL_RUN, MetricInputs
from gankit.runs import load_generator


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory, tiny_apps):
    out = tmp_path_factory.mktemp("cas") / "dcgan"
    overrides = {**tiny_apps, "data.name": "digits", "data.image_size": 16}
    api.train("dcgan-fashion", out, steps=2, seed=0, overrides=overrides)
    return out


def test_cas_is_registered_as_a_run_metric():
    spec = get_metric("cas")
    assert spec.needs == {CONDITIONAL_RUN} and spec.scores == "run"
    assert spec.higher_is_better is True and "cas" in spec.keys
    assert "cas" in metric_names("run") and "cas" not in metric_names("samples")


def test_eval_cas_equals_the_function_with_the_same_seed(cgan_run, capsys):
    assert main(["eval", str(cgan_run), "--metrics", "cas", "--seed", "3"]) == 0
    got = json.loads(capsys.readouterr().out)
    # the same by hand: digits at the run's 16x16, per_class capped at the smallest class
    G = load_generator(cgan_run)
    train = load_dataset("digits", split="train", image_size=16)
    test = load_dataset("digits", split="test", image_size=16)
    per_class = min(DEFAULTS["per_class"], int(torch.bincount(train.y).min()))
    want = classification_accuracy_score(G, train, test, per_class=per_class, seed=3)
    assert got["reference"] == "digits:test" and got["seed"] == 3
    assert got["per_class"] == per_class < DEFAULTS["per_class"]  # digits: ~130 a class
    for key in ("cas", "real_accuracy", "ratio", "cas_balanced", "real_balanced"):
        assert got[key] == pytest.approx(want[key], abs=1e-12), key
    assert got["cas_per_class"] == pytest.approx(want["cas_per_class"])
    assert 0 <= got["cas"] <= 1 and got["n_test"] == len(test)


def test_registry_dispatch_checks_its_inputs(cgan_run):
    with pytest.raises(DataError, match="conditional_run"):
        compute_metric("cas", MetricInputs())
    inputs, described = run_inputs(cgan_run, "digits:test")
    assert described == "digits:test" and inputs.generator.num_classes == 10
    unlabelled = load_dataset("ring", split="train", n_samples=20)
    bad = MetricInputs(generator=inputs.generator, ref_train=unlabelled, ref_test=unlabelled)
    with pytest.raises(DataError, match="labelled reference"):
        compute_metric("cas", bad)


@pytest.mark.parametrize(
    "case, expect",
    [("unconditional", "not class-conditional"), ("unlabelled", "class labels")],
)
def test_missing_inputs_are_one_clear_line(case, expect, cgan_run, dcgan_run, capsys):
    if case == "unconditional":
        argv = ["eval", str(dcgan_run), "--metrics", "cas"]
    else:
        argv = ["eval", str(cgan_run), "--metrics", "cas", "--reference", "ring"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gankit: error:"), err
    assert expect in err[0], err[0]


def test_a_reference_without_a_test_split_is_named(cgan_run, tmp_path):
    for k in range(10):  # a labelled folder: one subfolder per class, but no test split
        (tmp_path / f"c{k}").mkdir()
        Image.fromarray(np.full((16, 16), 20 * k, np.uint8)).save(tmp_path / f"c{k}" / "a.png")
    with pytest.raises(DataError, match="train and test splits; dataset 'folder'"):
        run_inputs(cgan_run, "folder", data_root=str(tmp_path))


def test_an_unknown_metric_names_cas_for_runs(cgan_run, capsys):
    assert main(["eval", str(cgan_run), "--metrics", "cass"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown metric 'cass'" in err[0]
    assert "A class-conditional run also takes: cas." in err[0]
