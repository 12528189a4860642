"""Run directories written by gankit 0.1.0 (checkpoint format 1: sampler ``G``, its average
under ``G_ema.``) still sample, evaluate and resume (issue 13, acceptance).

The fixtures in tests/fixtures/runs_0_1_0 were made by that release (see their README), and
``*.expected.npy`` are that release's own `gankit sample --seed 0` outputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gankit import api
from gankit.metrics.conditional import infogan_code_predictions
from gankit.metrics.evaluate import evaluate
from gankit.runs import CHECKPOINT_FORMAT, RunDir, load_generator, read_checkpoint

FIXTURES = Path(__file__).parent / "fixtures" / "runs_0_1_0"


@pytest.fixture
def old_run(tmp_path):
    def copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(FIXTURES / name, dst)
        return dst

    return copy


def test_fixtures_are_format_1():
    for name in ("toy-ring", "cgan-digits", "infogan-digits"):
        path = next((FIXTURES / name / "checkpoints").glob("*.safetensors"))
        raw = path.read_bytes()
        header = raw[8 : 8 + int.from_bytes(raw[:8], "little")]
        assert b"gankit-checkpoint-1" in header
        assert (b'"G_ema.' in header) == (name != "infogan-digits")  # infogan kept no EMA


@pytest.mark.parametrize(
    "name, kwargs",
    [("toy-ring", {"n": 16}), ("cgan-digits", {"n": 8, "label": 3}), ("infogan-digits", {"n": 8})],
)
def test_old_runs_sample_exactly_as_their_release_did(old_run, name, kwargs):
    run = old_run(name)
    got = api.sample(run, seed=0, **kwargs)
    want = np.load(FIXTURES / f"{name}.expected.npy")
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_old_ema_weights_are_read_as_the_ema_of_G(old_run):
    run = old_run("toy-ring")
    ema, raw = load_generator(run), load_generator(run, ema=False)
    assert not np.array_equal(ema.sample(8, seed=0).numpy(), raw.sample(8, seed=0).numpy())
    ckpt = RunDir(run).load_checkpoint()
    assert any(k.startswith("ema.G.") for k in ckpt.tensors)
    assert not any(k.startswith("G_ema.") for k in ckpt.tensors)
    assert set(ckpt.meta["exports"]) == {"sample"}


def test_old_runs_evaluate(old_run):
    result = evaluate(old_run("toy-ring"), metrics="mode_coverage", n=200)
    assert 0 <= result["modes_captured"] <= 8


def test_old_infogan_run_reads_codes_with_its_q_head(old_run):
    x = np.load(FIXTURES / "infogan-digits.expected.npy")
    from gankit.data.images import to_unit_range

    preds = infogan_code_predictions(old_run("infogan-digits"), to_unit_range(x))
    assert preds.shape == (8,) and ((preds >= 0) & (preds < 10)).all()


@pytest.mark.parametrize("name, steps", [("toy-ring", 24), ("cgan-digits", 8)])
def test_old_runs_resume_and_write_the_new_format(old_run, name, steps):
    run = old_run(name)
    api.resume(run, steps=steps, progress=False)
    ckpt = RunDir(run).load_checkpoint()
    assert ckpt.step == steps
    newest = read_checkpoint(ckpt.path)
    assert newest.meta["format"] == CHECKPOINT_FORMAT
    assert any(k.startswith("ema.G.") for k in newest.tensors)
    assert load_generator(run).sample(4, seed=0).shape[0] == 4
