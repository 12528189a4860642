"""Exact resume: a run stopped mid-epoch by a signal and resumed equals, bitwise, the same run
never interrupted: every tensor of the final checkpoint (weights, EMA, optimizer moments, data
order, RNG states, trick state) and every stats record but the wall-clock time.

The stop comes from a real SIGINT sent during a chosen step, through the graceful-stop path
(finish the step, checkpoint, raise TrainingStopped), then `api.resume` takes over in a fresh
Trainer. A case whose variant or config keys disappear fails (a skip would hide it).
"""

from __future__ import annotations

import os
import signal

import pytest

from gankit import api
from gankit.config import all_keys
from gankit.presets import preset_config
from gankit.runs import RunDir
from gankit.training.guard import TrainingStopped
from gankit.training.loop import Trainer
from gankit.variants import VARIANTS
from tests.conftest import TINY_DCGAN, TINY_TOY
from tests.reliability.reliability_support import assert_same_run

_TOY = {**TINY_TOY, "train.deterministic": True, "train.ema": 0.99}
_IMG = {**TINY_DCGAN, "train.deterministic": True, "train.ema": 0.9}
# name: (preset, overrides, total steps, stop step, variant needed). The stop steps are not
# multiples of log.stats_every / log.checkpoint_every, and fall inside an epoch: 16 toy steps
# (32 batches of 64, two D updates per step) or 56 digit batches of 32 make one.
CASES = {
    "toy-k2": ("toy-ring", {**_TOY, "train.d_steps": 2}, 24, 19, "gan"),
    "dcgan": ("dcgan-digits", _IMG, 12, 7, "dcgan"),
    "cgan": ("cgan-digits", _IMG, 10, 6, "cgan"),
    "acgan": ("acgan-fashion", {**_IMG, "data.name": "digits"}, 10, 6, "acgan"),
    "infogan": ("infogan-digits", _IMG, 10, 6, "infogan"),
    "instance-noise": ("toy-ring", {**_TOY, "tricks.instance_noise": 0.2}, 14, 8, "gan"),
    "historical-avg": ("toy-ring", {**_TOY, "tricks.historical_averaging": 1e-2}, 14, 8, "gan"),
    "unrolled": ("toy-ring", {**_TOY, "tricks.unrolled_steps": 2}, 12, 7, "gan"),
    "noisy-labels": (
        "toy-ring",
        {**_TOY, "tricks.label_flip": 0.1, "tricks.soft_labels": 0.1, "train.d_steps": 3},
        14,
        8,
        "gan",
    ),
}


def _config(case: str):
    preset, overrides, total, _, variant = CASES[case]
    assert variant in VARIANTS.names(), f"variant {variant} of case {case} is gone"
    missing = [k for k in overrides if k not in all_keys()]
    assert not missing, f"config keys {missing} of case {case} are gone"
    return preset_config(preset, {**overrides, "train.steps": total})


def _interrupt_at(tr: Trainer, step: int) -> None:
    """Send this process SIGINT while step ``step`` (1-based) is being computed."""
    phase = tr.phases[-1]
    inner = phase.loss

    def loss(ctx):
        if ctx.step == step - 1:
            os.kill(os.getpid(), signal.SIGINT)
        return inner(ctx)

    phase.loss = loss


@pytest.mark.parametrize("case", list(CASES))
def test_stopped_and_resumed_equals_uninterrupted(case, tmp_path):
    total, stop = CASES[case][2], CASES[case][3]
    api.train(_config(case), tmp_path / "full")

    cfg = _config(case)
    tr = Trainer(cfg, RunDir.create(tmp_path / "cut", cfg))
    _interrupt_at(tr, stop)
    with pytest.raises(TrainingStopped) as stopped:
        tr.train(total)
    assert stopped.value.step == stop
    ckpt = RunDir(tmp_path / "cut").load_checkpoint()
    assert ckpt.step == stop
    position, n = ckpt.meta["batcher"]["position"], len(tr.batcher.x)
    assert 0 < position < n - cfg.train.batch_size, "the stop should fall inside an epoch"

    api.resume(tmp_path / "cut")
    assert_same_run(tmp_path / "cut", tmp_path / "full")
