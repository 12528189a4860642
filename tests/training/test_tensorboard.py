"""log.tensorboard=true: the run's scalars and pictures, read back with TensorBoard's own
event reader (issue 19)."""

from __future__ import annotations

import json

import pytest

from gankit import api
from tests.conftest import TINY_DCGAN, TINY_TOY

pytest.importorskip("tensorboard")  # the optional extra; the dev install has it


def _events(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_toy_run_writes_scalars_and_frames(tmp_path):
    over = {**TINY_TOY, "log.toy_frames": True, "log.tensorboard": True}
    run = api.train("toy-ring", tmp_path / "R", steps=20, overrides=over).path
    acc = _events(run)
    tags = acc.Tags()
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert "loss/d_adv" in tags["scalars"] and "D(x)" in tags["scalars"]
    logged = acc.Scalars("loss/d_adv")
    assert [e.step for e in logged] == [r["step"] for r in stats]
    assert logged[-1].value == pytest.approx(stats[-1]["loss/d_adv"], rel=1e-6)
    frames = acc.Images("frames")
    pngs = sorted((run / "frames").glob("step_*.png"))
    assert [e.step for e in frames] == [int(p.stem.split("_")[1]) for p in pngs]


def test_image_run_writes_sample_grids(tmp_path):
    over = {**TINY_DCGAN, "log.tensorboard": True, "log.sample_every": 5}
    run = api.train("dcgan-digits", tmp_path / "R", steps=10, overrides=over).path
    grids = _events(run).Images("samples")
    pngs = sorted((run / "samples").glob("step_*.png"))
    assert [e.step for e in grids] == [int(p.stem.split("_")[1]) for p in pngs]
    assert {5, 10} <= {e.step for e in grids}
    assert grids[0].width > 0 and grids[0].height > 0


def test_missing_tensorboard_package_is_one_clear_line(tmp_path, monkeypatch):
    import sys

    from gankit.errors import ConfigError

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    over = {**TINY_TOY, "log.tensorboard": True}
    with pytest.raises(ConfigError, match=r'pip install "gankit\[tensorboard\]"'):
        api.train("toy-ring", tmp_path / "R", steps=2, overrides=over)
    assert not (tmp_path / "R").exists()  # nothing trained: the new run is undone
