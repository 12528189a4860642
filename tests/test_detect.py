"""`gankit probe RUN --detect SOURCE`: the discriminator as a fake detector (gankit.detect)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gankit import api, detect
from gankit.data import load_dataset
from gankit.data.images import from_unit_range, to_unit_range
from gankit.runs import load_generator, load_model, run_exports
from tests.conftest import TINY_DCGAN, TINY_TOY
from tests.test_cli import assert_one_line_error, run_cli

N = 60  # real and fake images each: the digits test split holds 359


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("detect")
    torch.set_num_threads(1)
    api.train("dcgan-digits", root / "long", steps=40, overrides=TINY_DCGAN)
    api.train("dcgan-digits", root / "short", steps=2, overrides=TINY_DCGAN)
    big = {**TINY_DCGAN, "data.image_size": 16}
    api.train("dcgan-digits", root / "big", steps=2, overrides=big)
    api.train("dcgan-digits", root / "packed", steps=2, overrides={**TINY_DCGAN, "tricks.pack": 2})
    api.train("bigan-ring", root / "bigan", steps=2, overrides=TINY_TOY)
    api.train("cyclegan-ring-grid", root / "cyc", steps=2, overrides=TINY_TOY)
    return root


def test_auc_is_that_of_d_logits_on_real_and_fake(runs):
    """The report's AUC recomputed independently from its definition."""
    from sklearn.metrics import roc_auc_score

    report = detect.detect(runs / "long", "self", n=N, seed=3)
    test = load_dataset("digits", split="test", image_size=8, channels=1)
    pick = np.sort(np.random.default_rng(3).choice(len(test), N, replace=False))
    real = test.x[torch.as_tensor(pick)]
    fake = to_unit_range(from_unit_range(load_generator(runs / "long").sample(N, seed=3)))
    D = load_model(runs / "long", "discriminator")
    logits = D(torch.cat([real, fake])).numpy()
    labels = np.r_[np.ones(N), np.zeros(N)]
    d = report["discriminator"]
    assert d["auc"] == pytest.approx(roc_auc_score(labels, logits), abs=1e-12)
    assert d["accuracy"] == pytest.approx(((logits > 0) == labels).mean())
    assert d["real_logit_mean"] == pytest.approx(logits[:N].mean(), abs=1e-5)
    assert report["split"] == "test" and report["n"] == N and report["source"] == "self"
    assert set(report["linear_probe"]) == {"D features", "raw pixels"}
    feats = report["linear_probe"]["D features"]
    assert feats["dim"] == run_exports(runs / "long")["features"].output["shape"][0]
    assert report["probe_fit_n"] + report["probe_scored_n"] == 2 * N
    for r in (d, *report["linear_probe"].values()):
        assert 0 <= r["auc"] <= 1 and 0 <= r["accuracy"] <= 1


def test_detect_is_seeded(runs):
    a = detect.detect(runs / "long", runs / "short", n=N, seed=0)
    b = detect.detect(runs / "long", runs / "short", n=N, seed=0)
    c = detect.detect(runs / "long", runs / "short", n=N, seed=1)
    strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    assert strip(a) == strip(b)
    assert a["discriminator"]["real_logit_mean"] != c["discriminator"]["real_logit_mean"]


def test_another_runs_generator_changes_the_fakes_not_the_reals(runs):
    own = detect.detect(runs / "long", "self", n=N)
    other = detect.detect(runs / "long", runs / "short", n=N)
    assert own["discriminator"]["real_logit_mean"] == other["discriminator"]["real_logit_mean"]
    assert own["discriminator"]["fake_logit_mean"] != other["discriminator"]["fake_logit_mean"]
    raw = detect.detect(runs / "long", "self", n=N, ema=False)
    assert raw["source_ema"] is False


def test_the_probe_separates_what_is_separable():
    """A linear probe scores AUC 1 on separated classes and about 1/2 on identical ones."""
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(200, np.int64), np.zeros(200, np.int64)]
    apart = rng.normal(size=(400, 5)) + 4.0 * y[:, None]
    fit, test = detect._halves(y, 0)
    assert sorted(np.r_[fit, test]) == list(range(400)) and y[fit].sum() == 100
    sep = detect._logistic(apart[fit], y[fit], apart[test], y[test], 0)
    assert sep["auc"] == 1.0 and sep["accuracy"] == 1.0 and sep["dim"] == 5
    same = rng.normal(size=(400, 5))
    chance = detect._logistic(same[fit], y[fit], same[test], y[test], 0)
    assert 0.35 < chance["auc"] < 0.65


def test_cli_prints_json_and_a_table(runs, capsys):
    code, out, _ = run_cli(capsys, "probe", runs / "long", "--detect", "self", "--n", N, "--quiet")
    assert code == 0
    lines = out.strip().splitlines()
    report = json.loads(lines[0])
    assert report["n"] == N and "discriminator" in report
    assert lines[2].startswith("detector") and "D logit (all)" in lines[3]
    assert f"{report['discriminator']['auc']:.4f}" in lines[3]
    assert any(ln.startswith("LR on D features") for ln in lines)


def test_a_packing_dcgan_exports_no_per_image_discriminator(runs):
    exports = run_exports(runs / "packed")
    assert "discriminator" not in exports and "features" in exports
    assert "discriminator" in run_exports(runs / "long")


@pytest.mark.parametrize(
    "run, source, extra, needles",
    [
        ("bigan", "self", [], ["no discriminator export", "it offers: apply"]),
        ("packed", "self", [], ["no discriminator export", "tricks.pack"]),
        ("long", "cyc", [], ["--detect", "no generator to sample from"]),
        ("long", "big", [], ["makes items of shape [1, 16, 16]", "takes [1, 8, 8]"]),
        ("long", "bigan", [], ["makes items of shape [2]", "takes [1, 8, 8]"]),
        ("long", "nowhere", [], ["give 'self'", "or a run directory"]),
        ("long", "self", ["--n", "100000"], ["--n 100000 is more than", "(359)"]),
        ("long", "self", ["--n", "1"], ["--n must be at least 2"]),
    ],
)
def test_bad_detect_requests_are_one_line(runs, capsys, run, source, extra, needles):
    where = source if source in ("self", "nowhere") else runs / source
    code, out, err = run_cli(capsys, "probe", runs / run, "--detect", where, "--quiet", *extra)
    assert_one_line_error(code, err, *needles)
    assert out == ""


def test_the_default_n_is_the_whole_split_where_it_is_smaller(runs):
    report = detect.detect(runs / "short", "self")
    assert report["n"] == 359 and report["probe_fit_n"] + report["probe_scored_n"] == 718
