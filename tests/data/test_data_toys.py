import json
import math

import pytest
import torch

from gankit.data import load_dataset, toy_sampler
from gankit.errors import ConfigError


def _nearest(points: torch.Tensor, centers: list[list[float]]):
    c = torch.tensor(centers)
    dist = torch.cdist(points, c)
    d, which = dist.min(dim=1)
    return which, points - c[which]


def test_ring_points_sit_on_eight_modes_with_the_right_std():
    ds = load_dataset("ring", n_samples=20000, seed=1)
    assert ds.kind == "vector" and ds.x.shape == (20000, 2) and ds.x.dtype == torch.float32
    assert ds.y is None and ds.shape == (2,)
    centers = ds.info["centers"]
    assert len(centers) == 8
    assert all(abs(math.hypot(*c) - 1) < 1e-9 for c in centers)
    which, residual = _nearest(ds.x, centers)
    assert residual.std().item() == pytest.approx(0.01, rel=0.05)
    counts = torch.bincount(which, minlength=8).float() / len(ds)
    assert torch.all((counts - 1 / 8).abs() < 0.02)
    json.dumps(ds.info)


def test_grid_has_25_modes():
    ds = load_dataset("grid", n_samples=20000)
    centers = ds.info["centers"]
    assert sorted({tuple(c) for c in centers}) == [
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    ]
    which, residual = _nearest(ds.x, centers)
    assert torch.unique(which).numel() == 25
    assert residual.std().item() == pytest.approx(ds.info["std"], rel=0.05)
    assert residual.abs().max() < 0.4


def test_sine_is_exact():
    x = load_dataset("sine", n_samples=5000).x
    assert x[:, 0].min() >= 0 and x[:, 0].max() <= 2 * math.pi
    assert torch.allclose(x[:, 1], torch.sin(x[:, 0]))


def test_spiral_stays_near_its_curve():
    x = load_dataset("spiral", n_samples=5000).x
    radius = x.norm(dim=1)
    assert radius.max() < 1.1
    assert torch.isfinite(x).all() and x.std(dim=0).min() > 0.2


@pytest.mark.parametrize("name", ["sine", "ring", "grid", "spiral"])
def test_seeds_and_splits(name):
    a = load_dataset(name, n_samples=100, seed=3)
    assert torch.equal(a.x, load_dataset(name, n_samples=100, seed=3).x)
    assert not torch.equal(a.x, load_dataset(name, n_samples=100, seed=4).x)
    test = load_dataset(name, n_samples=100, seed=3, split="test")
    assert not torch.equal(a.x, test.x)
    assert a.fingerprint() != test.fingerprint()


def test_toy_sampler_uses_the_generator():
    sample = toy_sampler("ring")
    a = sample(50, torch.Generator().manual_seed(0))
    b = sample(50, torch.Generator().manual_seed(0))
    assert a.shape == (50, 2) and torch.equal(a, b)
    with pytest.raises(ConfigError, match="rings"):
        toy_sampler("rings")


def test_toys_reject_the_all_split():
    with pytest.raises(ConfigError):
        load_dataset("ring", split="all")
