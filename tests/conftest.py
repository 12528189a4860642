"""Shared fixtures: tiny, fast configurations of the real presets."""

from __future__ import annotations

import pytest
import torch

from gankit.presets import preset_config

# Small enough that a few dozen steps take well under a second on 2 cores.
TINY_TOY = {
    "data.n_samples": 2048,
    "model.hidden": 16,
    "model.layers": 2,
    "train.batch_size": 64,
    "log.progress": False,
    "log.toy_frames": False,
    "log.stats_every": 5,
    "log.sample_every": 10,
    "log.checkpoint_every": 10,
}
TINY_DCGAN = {
    "data.image_size": 8,
    "model.z_dim": 8,
    "model.g_channels": 8,
    "model.d_channels": 8,
    "train.batch_size": 32,
    "log.progress": False,
    "log.stats_every": 5,
    "log.sample_every": 10,
    "log.checkpoint_every": 10,
    "log.n_fixed": 16,
}


# The application tests' tiny class-conditional runs (cas, balance, imbalance).
TINY_APPS = {
    "model.g_channels": 8,
    "model.d_channels": 8,
    "train.batch_size": 16,
    "diagnose.enabled": False,
    "eval.metrics": "",
    "log.progress": False,
}


@pytest.fixture(scope="session")
def tiny_apps():
    return dict(TINY_APPS)


@pytest.fixture(scope="session")
def cgan_run(tmp_path_factory):
    """A 3-step cgan-digits run, shared read-only by the application tests."""
    from gankit import api

    out = tmp_path_factory.mktemp("apps") / "cgan"
    api.train("cgan-digits", out, steps=3, seed=0, overrides=TINY_APPS)
    return out


@pytest.fixture
def toy_cfg():
    return lambda **kw: preset_config("toy-ring", {**TINY_TOY, **kw})


@pytest.fixture
def digits_cfg():
    return lambda **kw: preset_config("dcgan-digits", {**TINY_DCGAN, **kw})


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny test networks run faster on one thread, and far faster on a loaded machine, where
    two OpenMP threads spin waiting for each other. Benchmarks use the default."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
