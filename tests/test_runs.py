"""The run directory: atomic checkpoints, keep-last-K, damaged files, stats, load_generator."""

import json

import numpy as np
import pytest
import torch

from gankit import api
from gankit.config import Config
from gankit.errors import CheckpointError, ConfigError, RunError
from gankit.runs import RunDir, load_generator, read_checkpoint
from gankit.training.loop import Trainer
from tests.conftest import TINY_TOY


def test_keep_last_k_and_fallback_on_damage(tmp_path):
    run = RunDir.create(tmp_path / "r", Config())
    for step in (1, 2, 3, 4):
        run.save_checkpoint(step, {"w": torch.full((3,), float(step))}, {"x": step}, keep=2)
    assert [p.name for p in run.checkpoint_paths()] == [
        "ckpt_00000003.safetensors",
        "ckpt_00000004.safetensors",
    ]
    newest = run.checkpoint_paths()[-1]
    newest.write_bytes(newest.read_bytes()[:40])  # truncated
    ckpt = run.load_checkpoint()
    assert ckpt.step == 3 and torch.equal(ckpt.tensors["w"], torch.full((3,), 3.0))
    assert newest.exists()  # never deleted
    with pytest.raises(CheckpointError, match="damaged"):
        read_checkpoint(newest)


def test_no_temp_files_left(tmp_path):
    run = RunDir.create(tmp_path / "r", Config())
    run.save_checkpoint(1, {"w": torch.zeros(2)}, {}, keep=3)
    assert [p.name for p in run.checkpoints_dir.iterdir()] == ["ckpt_00000001.safetensors"]


def test_crafted_checkpoint_rejected(tmp_path):
    bad = tmp_path / "ckpt_00000001.safetensors"
    bad.write_bytes((10**9).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError):
        read_checkpoint(bad)


def test_half_written_stats_line_is_skipped(tmp_path):
    run = RunDir.create(tmp_path / "r", Config())
    run.append_stats({"step": 1, "loss/d": 0.5})
    with open(run.stats_path, "a") as f:
        f.write('{"step": 2, "loss')
    assert run.read_stats() == [{"step": 1, "loss/d": 0.5}]


def test_create_refuses_existing_run_and_open_refuses_non_run(tmp_path):
    RunDir.create(tmp_path / "r", Config())
    with pytest.raises(RunError, match="already holds a run"):
        RunDir.create(tmp_path / "r", Config())
    with pytest.raises(RunError, match="not a gankit run"):
        RunDir.open(tmp_path)
    with pytest.raises(RunError, match="does not exist"):
        RunDir.open(tmp_path / "nope")


def test_load_generator_without_training_code(toy_cfg, tmp_path):
    api.train(toy_cfg(**{"train.ema": 0.9}), tmp_path / "r", steps=6)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["train"]["steps"] == 6
    G = load_generator(tmp_path / "r")
    assert G.kind == "vector" and G.step == 6
    a, b = G.sample(100, seed=1), G.sample(100, seed=1)
    assert a.shape == (100, 2) and torch.equal(a, b)
    assert not torch.equal(a, G.sample(100, seed=2))
    raw = load_generator(tmp_path / "r", ema=False)
    assert not torch.equal(a, raw.sample(100, seed=1))  # EMA weights differ from raw G


def test_image_samples_layout(digits_cfg, tmp_path):
    api.train(digits_cfg(), tmp_path / "r", steps=3)
    s = api.sample(tmp_path / "r", 10, seed=0)
    assert s.shape == (10, 1, 8, 8) and s.dtype == np.uint8
    api.save_samples(s, f"{tmp_path}/pngs/")
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 10
    run = RunDir(tmp_path / "r")
    assert (run.samples_dir / "step_00000000.png").exists()
    assert (run.samples_dir / "progress.gif").exists() and (run.path / "losses.png").exists()


def test_training_declares_its_end_in_status_json(tmp_path):
    """finished at the target step; removed when training starts again (resume); failed with
    the reason on a non-finite loss (tested in tests/reliability)."""
    run = api.train("toy-ring", tmp_path / "r", steps=4, overrides=TINY_TOY, progress=False)
    assert json.loads(run.status_path.read_text()) == {
        "status": "finished",
        "reason": "reached step 4",
    }
    api.resume(run.path, steps=6, progress=False)
    assert json.loads(run.status_path.read_text())["reason"] == "reached step 6"
    tr = Trainer(run.config(), run)
    tr.train(2)  # a partial session: not the end, and the stale file is gone
    assert not run.status_path.exists()


def test_a_run_that_cannot_start_leaves_no_run_behind(toy_cfg, tmp_path):
    refused = toy_cfg(**{"train.variant": "acgan"})  # the ring has no labels
    with pytest.raises(ConfigError, match="needs labels"):
        api.train(refused, tmp_path / "new")
    assert not (tmp_path / "new").exists()  # so the same --out works after the fix
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError):
        api.train(toy_cfg(**{"train.variant": "acgan"}), mine)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    api.train(toy_cfg(), tmp_path / "new", steps=2)  # the retry starts cleanly
    assert RunDir.open(tmp_path / "new").load_checkpoint().step == 2
