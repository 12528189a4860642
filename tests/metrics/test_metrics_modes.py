"""Toy-mixture mode coverage (VEEGAN/PacGAN rules) and labelled class coverage."""

import math

import numpy as np
import pytest

from gankit.errors import DataError
from gankit.metrics import class_coverage, mode_coverage

RING = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], 1)
GRID = np.array([[x, y] for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)], dtype=float)


def sample_mixture(centers, std, n, seed=0, modes=None):
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(centers), size=n) if modes is None else np.resize(modes, n)
    return centers[idx] + std * rng.standard_normal((n, centers.shape[1]))


@pytest.mark.parametrize(("centers", "std"), [(RING, 0.01), (GRID, 0.05)])
def test_true_samples_capture_every_mode(centers, std):
    out = mode_coverage(sample_mixture(centers, std, 2500), centers, std)
    assert out["modes_captured"] == out["num_modes"] == len(centers)
    assert out["high_quality_fraction"] >= 0.95
    assert out["reverse_kl"] < 0.05


@pytest.mark.parametrize(("centers", "std"), [(RING, 0.01), (GRID, 0.05)])
def test_single_mode_collapse(centers, std):
    out = mode_coverage(sample_mixture(centers, std, 1000, modes=[3]), centers, std)
    assert out["modes_captured"] == 1
    assert out["reverse_kl"] == pytest.approx(math.log(len(centers)), rel=1e-12)


def test_balanced_histogram_has_zero_reverse_kl():
    out = mode_coverage(np.tile(GRID, (4, 1)), GRID, 0.05)
    assert out == {
        "modes_captured": 25,
        "num_modes": 25,
        "high_quality_fraction": 1.0,
        "reverse_kl": 0.0,
    }


def test_low_quality_samples_capture_nothing():
    far = RING * 1.5  # 50 std away from every centre
    out = mode_coverage(far, RING, 0.01)
    assert out["modes_captured"] == 0 and out["high_quality_fraction"] == 0.0
    assert math.isnan(out["reverse_kl"])
    half = mode_coverage(np.concatenate([far, RING]), RING, 0.01)
    assert half["high_quality_fraction"] == 0.5 and half["modes_captured"] == 8


def test_min_count_threshold():
    samples = np.concatenate([np.repeat(RING[:1], 10, axis=0), RING[1:2]])
    assert mode_coverage(samples, RING, 0.01)["modes_captured"] == 2
    assert mode_coverage(samples, RING, 0.01, min_count=5)["modes_captured"] == 1


def test_mode_validation():
    with pytest.raises(DataError):
        mode_coverage(np.zeros((4, 3)), RING, 0.01)
    with pytest.raises(DataError):
        mode_coverage(RING, RING, 0.0)


def test_class_coverage():
    rng = np.random.default_rng(0)
    ref = rng.integers(10, size=5000)
    same = class_coverage(ref, ref, 10)
    assert same["classes_covered"] == 10 and same["num_classes"] == 10
    assert same["kl"] == pytest.approx(0.0, abs=1e-12)
    balanced = np.arange(1000) % 10
    collapsed = class_coverage(np.full(1000, 4), balanced, 10)
    assert collapsed["classes_covered"] == 1
    assert collapsed["kl"] == pytest.approx(math.log(10), rel=1e-4)
    fresh = class_coverage(rng.integers(10, size=5000), balanced, 10)
    assert fresh["classes_covered"] == 10 and 0 < fresh["kl"] < 0.01
    # A class absent from the reference keeps the KL finite thanks to the smoothing.
    assert np.isfinite(class_coverage([0, 1, 2], [0, 0, 1], 3)["kl"])


def test_class_coverage_validation():
    with pytest.raises(DataError):
        class_coverage([0, 1, 10], [0, 1], 10)
    with pytest.raises(DataError):
        class_coverage([0.5], [0], 2)
    with pytest.raises(DataError):
        class_coverage([], [0], 2)
