"""The toy presets of issue 4 exist, resolve and train. Their quality (modes captured and
high-quality samples over 5 seeds) is measured by benchmarks/toy_modes.py, not here: a full
run takes a CPU minute or more."""

import numpy as np
import pytest

import gankit
from gankit.presets import PRESETS, preset_config

QUIET = {
    "log.progress": False,
    "log.toy_frames": False,
    "log.sample_every": 0,
    "diagnose.enabled": False,
}


@pytest.mark.parametrize(
    "name, data",
    [("toy-ring-best", "ring"), ("toy-grid-best", "grid"), ("toy-ring-collapse", "ring")],
)
def test_toy_mode_presets_train_and_sample(tmp_path, name, data):
    assert name in PRESETS and PRESETS[name].description
    cfg = preset_config(name, QUIET)
    assert cfg.preset == name and cfg.data.name == data
    # a few steps of the preset's own networks and tricks; the schedules (lr decay, instance
    # noise) are pure functions of the step, so a short run exercises them too
    gankit.train(cfg, tmp_path / name, steps=6, seed=0)
    x = gankit.load_generator(tmp_path / name).sample(16, seed=0).numpy()
    assert x.shape == (16, 2) and np.isfinite(x).all()
