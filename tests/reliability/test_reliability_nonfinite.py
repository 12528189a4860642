"""Non-finite values: caught before the optimizer step; stop, or roll back with a lower rate;
a poisoned state never replaces a good checkpoint."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gankit import cli
from gankit.errors import ConfigError, TrainingError
from gankit.runs import RunDir
from gankit.training.loop import Trainer
from tests.conftest import TINY_TOY
from tests.reliability.reliability_support import set_args


def _trainer(toy_cfg, tmp_path, **kw):
    cfg = toy_cfg(**{"log.checkpoint_every": 5, "diagnose.enabled": False, **kw})
    return Trainer(cfg, RunDir.create(tmp_path / "run", cfg))


def _poison_loss(tr: Trainer, phase_name: str, steps: set[int], times: int = 10**9) -> list:
    """Make every term of ``phase_name`` NaN during the given (1-based) steps, the first
    ``times`` times; returns the list of states (weights, Adam moments) each poisoned update
    would have started from."""
    phase = next(p for p in tr.phases if p.name == phase_name)
    inner, seen = phase.loss, []

    def loss(ctx):
        terms = inner(ctx)
        if ctx.step + 1 in steps and len(seen) < times:
            seen.append(_snapshot(tr, phase_name))
            return {k: v * math.nan for k, v in terms.items()}
        return terms

    phase.loss = loss
    return seen


def _snapshot(tr: Trainer, name: str) -> list[torch.Tensor]:
    opt = tr.optimizers[name]
    moments = [t for st in opt.state.values() for t in st.values() if torch.is_tensor(t)]
    return [t.detach().clone() for t in (*tr.nets[name].parameters(), *moments)]


def _files(run) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in RunDir(run).checkpoints_dir.iterdir()}


def test_nan_loss_stops_before_the_step_and_keeps_the_checkpoint(toy_cfg, tmp_path):
    tr = _trainer(toy_cfg, tmp_path)
    seen = _poison_loss(tr, "D", {8})
    tr.train(5)
    saved = _files(tmp_path / "run")
    with pytest.raises(TrainingError) as err:
        tr.train(20)
    msg = str(err.value)
    assert "non-finite loss d_adv=nan in the D update of step 8" in msg
    assert "(step 5) is kept" in msg and "train.nan_policy=rollback" in msg
    # neither D's weights nor Adam's moments and step count moved
    assert all(torch.equal(a, b) for a, b in zip(seen[0], _snapshot(tr, "D")))
    assert _files(tmp_path / "run") == saved
    status = json.loads(RunDir(tmp_path / "run").status_path.read_text())
    assert status["status"] == "failed" and "d_adv=nan" in status["reason"]


def test_inf_gradient_under_a_finite_loss_is_caught(toy_cfg, tmp_path):
    tr = _trainer(toy_cfg, tmp_path)
    weight = next(tr.nets["G"].parameters())
    state = {"on": False}
    weight.register_hook(lambda g: g * math.inf if state["on"] else g)
    tr.train(3)
    before = _snapshot(tr, "G")
    state["on"] = True
    with pytest.raises(TrainingError, match=r"non-finite gradient in 1 of \d+ tensors in the G"):
        tr.train(10)
    assert all(torch.equal(a, b) for a, b in zip(before, _snapshot(tr, "G")))


def test_rollback_lowers_the_learning_rate_and_goes_on(toy_cfg, tmp_path, capsys):
    tr = _trainer(toy_cfg, tmp_path, **{"train.nan_policy": "rollback"})
    lrs = {name: opt.param_groups[0]["lr"] for name, opt in tr.optimizers.items()}
    poisoned = _poison_loss(tr, "G", {8}, times=1)  # the replayed step 8 is clean
    tr.train(14)
    err = capsys.readouterr().err
    assert "non-finite loss g_adv=nan in the G update of step 8" in err
    assert "rolled back to step 5 with learning rates x0.5 (rollback 1 of 3)" in err
    assert len(poisoned) == 1 and tr.step == 14 and tr.rollbacks == 1
    ckpt = RunDir(tmp_path / "run").load_checkpoint()
    for name, lr in lrs.items():  # the lower rate is in the checkpoint: resume keeps it
        assert ckpt.meta["optimizers"][name]["param_groups"][0]["lr"] == lr * 0.5
    steps = [r["step"] for r in RunDir(tmp_path / "run").read_stats()]
    assert steps == sorted(set(steps)) and steps[-1] == 14  # replayed records not doubled


def test_rollback_before_any_checkpoint_and_its_limit(toy_cfg, tmp_path):
    tr = _trainer(
        toy_cfg,
        tmp_path,
        **{"train.nan_policy": "rollback", "train.max_rollbacks": 2, "log.checkpoint_every": 1000},
    )
    lr = tr.optimizers["D"].param_groups[0]["lr"]
    _poison_loss(tr, "D", {2})  # every time: the run cannot get past step 2
    with pytest.raises(TrainingError, match="after 2 rollbacks"):
        tr.train(10)
    # the rollback point written at the start (step 0), and nothing after it
    assert [p.name for p in RunDir(tmp_path / "run").checkpoint_paths()] == [
        "ckpt_00000000.safetensors"
    ]
    # the rates compound (x0.5 each time), or the same divergence would just replay
    assert tr.optimizers["D"].param_groups[0]["lr"] == lr * 0.25


@pytest.mark.parametrize("part", ["weight", "ema", "adam-moment", "stats-sum"])
def test_poisoned_state_never_replaces_a_good_checkpoint(part, toy_cfg, tmp_path):
    tr = _trainer(toy_cfg, tmp_path, **{"train.ema": 0.9})
    tr.train(5)
    saved = _files(tmp_path / "run")
    with torch.no_grad():
        if part == "weight":
            next(tr.nets["D"].parameters())[0] = math.nan
        elif part == "ema":
            next(tr.emas["G"].module.parameters())[0] = math.inf
        elif part == "adam-moment":
            next(iter(tr.optimizers["G"].state.values()))["exp_avg_sq"][0] = math.inf
        else:
            tr._sums = {"loss/d_adv": torch.tensor(math.nan)}
            tr._counts = {"loss/d_adv": 1}
    with pytest.raises(TrainingError, match="non-finite at step 5; not overwriting"):
        tr.save_checkpoint()
    assert _files(tmp_path / "run") == saved


def test_cli_divergence_is_one_line_and_exit_2(tmp_path, capsys):
    sets = {**TINY_TOY, "train.lr_d": 1e20, "diagnose.enabled": False}  # D's logits overflow
    out = tmp_path / "run"
    code = cli.main(["train", "toy-ring", "--out", str(out), "--steps", "50", *set_args(sets)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("gankit: error: non-finite loss")
    assert "train.nan_policy=rollback" in err[0]


@pytest.mark.parametrize(
    "key, value",
    [
        ("train.nan_policy", "ignore"),
        ("train.rollback_lr_factor", 1.0),
        ("train.max_rollbacks", -1),
    ],
)
def test_nan_policy_config_is_checked(toy_cfg, key, value):
    with pytest.raises(ConfigError, match=key):
        toy_cfg(**{key: value})


def test_deferred_check_stops_at_the_next_record_and_keeps_the_checkpoint(toy_cfg, tmp_path):
    """train.nan_check=record (the GPU default): no per-update sync; the bad update of step 7
    is found at the record of step 10 and never reaches a checkpoint."""
    kw = {"train.nan_check": "record", "log.stats_every": 5, "log.checkpoint_every": 5}
    tr = _trainer(toy_cfg, tmp_path, **kw)
    assert tr.deferred is not None
    _poison_loss(tr, "D", {7})
    tr.train(5)
    saved = _files(tmp_path / "run")
    with pytest.raises(
        TrainingError, match=r"non-finite loss or gradient in an update of steps 6\.\.10"
    ):
        tr.train(20)
    assert tr.step == 10 and _files(tmp_path / "run") == saved
    assert [r["step"] for r in RunDir(tmp_path / "run").read_stats()] == [5]


def test_deferred_check_rolls_back_like_the_per_update_check(toy_cfg, tmp_path, capsys):
    kw = {"train.nan_check": "record", "train.nan_policy": "rollback", "log.stats_every": 5}
    tr = _trainer(toy_cfg, tmp_path, **{**kw, "log.checkpoint_every": 5})
    _poison_loss(tr, "G", {8}, times=1)
    tr.train(14)
    assert "rolled back to step 5" in capsys.readouterr().err
    assert tr.step == 14 and tr.rollbacks == 1
    weights = RunDir(tmp_path / "run").load_checkpoint().tensors
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_nan_check_auto_defers_only_on_cuda(toy_cfg, tmp_path):
    assert _trainer(toy_cfg, tmp_path).deferred is None  # CPU: the per-update check
    with pytest.raises(ConfigError, match="valid: auto, step, record"):
        toy_cfg(**{"train.nan_check": "later"})
