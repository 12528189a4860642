"""Failure-mode detectors on hand-made records, and the live callback on real runs."""

import json
import math

import pytest
import torch

from gankit import api
from gankit.config import DiagnoseConfig
from gankit.errors import TrainingError
from gankit.runs import RunDir
from gankit.training import diagnostics as dg
from gankit.training.loop import Trainer

OPTS = DiagnoseConfig(patience=3, warmup=100)


def records(n, start=50, every=50, **series):
    """n records; each keyword is a constant or a list of per-record values."""
    out = []
    for i in range(n):
        r = {"step": start + i * every}
        for k, v in series.items():
            r[k.replace("__", "/").replace("DX", "D(x)").replace("DGZ", "D(G(z))")] = (
                v[i] if isinstance(v, list) else v
            )
        out.append(r)
    return out


# --- discriminator_wins --------------------------------------------------------------------------
def test_discriminator_wins_after_patience_records():
    recs = records(
        5,
        DX=[0.6, 0.95, 0.96, 0.97, 0.97],
        DGZ=[0.4, 0.05, 0.04, 0.03, 0.03],
        loss__d_adv=[1.2, 0.1, 0.08, 0.06, 0.06],
    )
    f = dg.detect_discriminator_wins(recs, "gan", OPTS)
    assert f.kind == "discriminator_wins" and f.step == 200
    assert f.evidence["since_step"] == 100 and f.evidence["D(x)"] == 0.97
    assert "lr_d" in f.remedy


def test_no_discriminator_win_when_interrupted_or_balanced():
    interrupted = records(5, DX=[0.95, 0.95, 0.6, 0.95, 0.95], DGZ=0.05, loss__d_adv=0.1)
    assert dg.detect_discriminator_wins(interrupted, "gan", OPTS) is None
    balanced = records(10, DX=0.55, DGZ=0.45, loss__d_adv=1.3)
    assert dg.detect_discriminator_wins(balanced, "gan", OPTS) is None


def test_vanishing_generator_gradient_counts_as_discriminator_winning():
    recs = records(
        6, DX=0.7, DGZ=0.3, loss__d_adv=0.9, diag__grad_norm_G=[5, 4, 0.01, 0.01, 0.01, 1]
    )
    f = dg.detect_discriminator_wins(recs, "gan", OPTS)
    assert f.step == 250 and f.evidence["peak_grad_norm_G"] == 5


def test_vanishing_gradient_with_an_undecided_d_is_not_a_winning_d():
    # issue 19, toy-sine: D(x) = 0.5004, D(G(z)) = 0.5003 and G's gradient gone
    recs = records(
        6, DX=0.5004, DGZ=0.5003, loss__d_adv=1.386, diag__grad_norm_G=[5, 4, 0.01, 0.01, 0.01, 1]
    )
    f = dg.detect_discriminator_wins(recs, "gan", OPTS)
    assert f.kind == "vanishing_gradient" and "D has not won" in f.remedy
    assert f.evidence["D(x)"] == 0.5004


def test_discriminator_wins_for_lsgan_and_hinge():
    ls = records(3, critic__x=0.95, critic__GZ=0.05)
    for r in ls:
        r["critic(x)"], r["critic(G(z))"] = r.pop("critic/x"), r.pop("critic/GZ")
    assert dg.detect_discriminator_wins(ls, "lsgan", OPTS) is not None
    assert dg.detect_discriminator_wins(ls, "wgan", OPTS) is None  # no such notion for a critic
    assert dg.detect_discriminator_wins(records(3, loss__d_adv=0.01), "hinge", OPTS) is not None


# --- mode_collapse -------------------------------------------------------------------------------
def test_mode_collapse_from_low_diversity_after_warmup():
    recs = records(6, diag__diversity=[0.9, 0.3, 0.2, 0.2, 0.2, 0.2])
    f = dg.detect_mode_collapse(recs, OPTS)
    assert f.kind == "mode_collapse" and f.step == 200  # records 100, 150, 200
    assert f.evidence["peak_diversity"] == 0.9 and f.evidence["diversity"] == 0.2


def test_no_mode_collapse_during_warmup_or_while_recovering():
    early = records(3, start=0, every=25, diag__diversity=0.1)  # steps 0, 25, 50 < warmup 100
    assert dg.detect_mode_collapse(early, OPTS) is None
    growing = records(6, diag__diversity=[0.1, 0.15, 0.2, 0.26, 0.33, 0.4])
    assert dg.detect_mode_collapse(growing, OPTS) is None


def test_mode_collapse_from_modes_reached():
    recs = records(4, diag__diversity=0.8, diag__modes_reached=[8, 3, 2, 2], diag__modes_total=8)
    f = dg.detect_mode_collapse(recs, OPTS)
    assert f.step == 200 and f.evidence["modes_reached"] == 2
    fine = records(4, diag__diversity=0.8, diag__modes_reached=5, diag__modes_total=8)
    assert dg.detect_mode_collapse(fine, OPTS) is None


def test_mode_collapse_from_low_within_class_diversity():
    # a conditional G with one image per class: diverse over classes, collapsed inside each
    recs = records(4, diag__diversity=0.95, diag__diversity_in_class=[0.9, 0.1, 0.05, 0.05])
    f = dg.detect_mode_collapse(recs, OPTS)
    assert f.step == 200 and f.evidence["diversity_in_class"] == 0.05
    # each value is reported beside its own peak, not the overall one beside the in-class one
    assert f.evidence["peak_diversity"] == 0.95 and f.evidence["peak_diversity_in_class"] == 0.9
    fine = records(4, diag__diversity=0.95, diag__diversity_in_class=0.9)
    assert dg.detect_mode_collapse(fine, OPTS) is None


def test_within_class_diversity():
    x = torch.tensor([[0.0], [2.0], [5.0], [5.0], [9.0]])
    labels = torch.tensor([0, 0, 1, 1, 2])  # class 2 has one row: left out
    assert dg.within_class_diversity(x, labels) == pytest.approx((2.0 + 0.0) / 2)
    assert dg.within_class_diversity(x[:1], labels[:1]) is None


def test_callback_sees_a_conditional_generator_that_ignores_its_noise(digits_cfg, tmp_path):
    cfg = digits_cfg(**{"train.variant": "cgan", "diagnose.n_samples": 100})
    tr = Trainer(cfg, RunDir.create(tmp_path / "run", cfg))
    cb = dg.Diagnostics(tr)
    live = cb.measure(tr)
    assert live["diag/diversity_in_class"] > 0 and live["diag/diversity"] > 0
    G = tr.nets["G"]
    forward = G.forward
    # the same noise for every sample: each class gets one image, whatever z was drawn
    G.forward = lambda z, y: forward(torch.zeros_like(z), y)
    collapsed = cb.measure(tr)
    assert collapsed["diag/diversity_in_class"] == 0.0
    assert collapsed["diag/diversity"] > 0.2 * live["diag/diversity"]  # classes still differ


def test_reached_counts_groups_with_a_fair_share():
    # 100 samples, 4 groups: a fair share is 25; 10% of it (2.5) is needed
    assignments = torch.tensor([0] * 90 + [1] * 7 + [2] * 2 + [3] * 1).numpy()
    assert dg.reached(assignments, 4) == 2


# --- non_convergence -----------------------------------------------------------------------------
def test_non_convergence_when_losses_swing_without_progress():
    swing = [1.0 + 0.8 * math.sin(i) for i in range(14)]
    recs = records(14, start=100, loss__g_adv=swing, diag__diversity=0.6)
    f = dg.detect_non_convergence(recs, OPTS)
    assert f.kind == "non_convergence" and f.evidence["loss_spread"] > dg.OSC_SPREAD


def test_no_non_convergence_when_steady_or_improving():
    steady = records(
        14, start=100, loss__g_adv=[1.0 + 0.01 * (i % 2) for i in range(14)], diag__diversity=0.6
    )
    assert dg.detect_non_convergence(steady, OPTS) is None
    swing = [1.0 + 0.8 * math.sin(i) for i in range(14)]
    improving = records(
        14, start=100, loss__g_adv=swing, diag__diversity=[0.3 + 0.05 * i for i in range(14)]
    )
    assert dg.detect_non_convergence(improving, OPTS) is None


def test_tracked_metric_prefers_logged_metrics():
    assert dg.tracked_metric({"metric/fid": 30.0, "diag/diversity": 0.5}) == (
        "metric/fid",
        30.0,
        False,
    )
    toy = {"diag/modes": 4, "diag/modes_total": 8, "diag/high_quality": 0.5}
    assert dg.tracked_metric(toy) == ("modes x high_quality", 0.25, True)


# --- nan ---------------------------------------------------------------------------------
def test_nan_in_a_record():
    recs = records(3, loss__d_adv=[1.0, float("nan"), 1.0])
    f = dg.detect_nan(recs)
    assert f.kind == "nan" and f.step == 100 and "loss/d_adv" in f.evidence["non_finite"]


# --- the live callback -------------------------------------------------------------------
def test_callback_measures_and_writes_diagnosis(toy_cfg, tmp_path):
    cfg = toy_cfg(**{"diagnose.n_samples": 128})
    api.train(cfg, tmp_path / "run", steps=10)
    run = RunDir(tmp_path / "run")
    rec = run.read_stats()[-1]
    for key in (
        "diag/diversity",
        "diag/grad_norm_G",
        "diag/modes",
        "diag/modes_reached",
        "diag/high_quality",
    ):
        assert key in rec
    assert rec["diag/modes_total"] == 8
    body = json.loads((run.path / dg.DIAGNOSIS_FILE).read_text())
    assert body["step"] == 10 and isinstance(body["findings"], list)


def test_callback_does_not_change_training(toy_cfg, tmp_path):
    a = toy_cfg(**{"diagnose.enabled": True})
    b = toy_cfg(**{"diagnose.enabled": False})
    api.train(a, tmp_path / "a", steps=12)
    api.train(b, tmp_path / "b", steps=12)
    wa = RunDir(tmp_path / "a").load_checkpoint().tensors
    wb = RunDir(tmp_path / "b").load_checkpoint().tensors
    assert all(torch.equal(wa[k], wb[k]) for k in wa if k.startswith(("G.", "D.")))


def test_discriminator_learning_10x_faster_is_reported_early(digits_cfg, tmp_path):
    # lr_d = 10 lr_g on the tiny DCGAN of the test fixtures: D(x) -> 0.94, D(G(z)) -> 0.06
    cfg = digits_cfg(
        **{
            "train.lr_d": 2e-3,
            "train.lr_g": 2e-4,
            "log.stats_every": 25,
            "log.sample_every": 1000,
            "log.checkpoint_every": 1000,
        }
    )
    api.train(cfg, tmp_path / "fast_d", steps=300)
    found = {f.kind: f for f in dg.read_diagnosis(RunDir(tmp_path / "fast_d"))}
    assert "discriminator_wins" in found and found["discriminator_wins"].step <= 300
    # the same run with equal learning rates is not reported
    cfg = digits_cfg(
        **{"log.stats_every": 25, "log.sample_every": 1000, "log.checkpoint_every": 1000}
    )
    api.train(cfg, tmp_path / "equal", steps=300)
    kinds = {f.kind for f in dg.read_diagnosis(RunDir(tmp_path / "equal"))}
    assert "discriminator_wins" not in kinds


def test_nan_stops_training_and_is_recorded(toy_cfg, tmp_path):
    cfg = toy_cfg(**{"log.checkpoint_every": 5})
    run = RunDir.create(tmp_path / "run", cfg)
    tr = Trainer(cfg, run)
    tr.train(5)
    with torch.no_grad():
        next(tr.nets["D"].parameters()).fill_(float("nan"))
    with pytest.raises(TrainingError):
        tr.train(10)
    found = dg.read_diagnosis(run)
    assert [f.kind for f in found] == ["nan"] and "lr" in found[0].remedy
    assert run.load_checkpoint().step == 5  # the last good checkpoint is kept
