"""Precision/recall (k-NN) and density/coverage: brute force, limits, monotonicity, chunking."""

import numpy as np
import pytest
import torch

from gankit.errors import DataError
from gankit.metrics import METRICS, density_coverage, prdc, precision_recall


def brute_prdc(real, fake, k_pr=3, k_dc=5):
    """Straight from the papers' definitions with full float64 distance matrices."""

    def dists(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))

    def kth_nn(a, k):
        d = dists(a, a)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    rf = dists(real, fake)  # (N_real, N_fake)
    r_pr, f_pr, r_dc = kth_nn(real, k_pr), kth_nn(fake, k_pr), kth_nn(real, k_dc)
    return {
        "precision": np.mean((rf <= r_pr[:, None]).any(axis=0)),
        "recall": np.mean((rf <= f_pr[None, :]).any(axis=1)),
        "density": (rf < r_dc[:, None]).sum() / (k_dc * fake.shape[0]),
        "coverage": np.mean(rf.min(axis=1) < r_dc),
    }


def gaussians(n_real, n_fake, d, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_real, d)), rng.standard_normal((n_fake, d)) + shift


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_brute_force(dtype):
    real, fake = gaussians(300, 250, 6, shift=0.4)
    ours, ref = prdc(real, fake, dtype=dtype), brute_prdc(real, fake)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12 if dtype == torch.float64 else 1e-2)


def test_chunk_size_does_not_change_results():
    real, fake = gaussians(300, 280, 10, shift=0.3, seed=1)
    results = [prdc(real, fake, chunk_size=c) for c in (7, 64, 299, 300, 5000)]
    assert all(r == results[0] for r in results)


def test_identical_sets():
    real, _ = gaussians(500, 1, 8, seed=2)
    out = prdc(real, real)
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0
    assert out["density"] == pytest.approx(1.0, abs=0.01)


def test_same_distribution_independent_samples():
    real, fake = gaussians(2000, 2000, 8, seed=3)
    out = prdc(real, fake)
    assert out["density"] == pytest.approx(1.0, abs=0.1)
    # Naeem et al. 2020: with equal set sizes, E[coverage] = 1 - 1/2^k (k=5 -> 0.969).
    assert out["coverage"] == pytest.approx(1 - 0.5**5, abs=0.02)
    assert out["precision"] > 0.6 and out["recall"] > 0.6


def test_disjoint_far_sets_all_zero():
    real, fake = gaussians(200, 200, 4, shift=100.0, seed=4)
    assert prdc(real, fake) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_monotone_in_shift():
    real, noise = gaussians(800, 800, 16, seed=5)
    rows = [prdc(real, noise + s) for s in (0.0, 0.25, 0.5, 1.0, 2.0)]
    for key in ("precision", "recall", "density", "coverage"):
        values = [r[key] for r in rows]
        assert values == sorted(values, reverse=True), (key, values)
        assert values[0] > values[-1]


def test_wrappers_and_registry():
    real, fake = gaussians(150, 120, 5, shift=0.2, seed=6)
    both = prdc(real, fake, k_pr=4, k_dc=6)
    pr = precision_recall(real, fake, k=4)
    dc = density_coverage(torch.from_numpy(real), torch.from_numpy(fake), k=6)
    assert pr == {"precision": both["precision"], "recall": both["recall"]}
    assert dc == {"density": both["density"], "coverage": both["coverage"]}
    assert METRICS.get("precision_recall") is precision_recall
    assert METRICS.get("density_coverage") is density_coverage


def test_validation():
    with pytest.raises(DataError, match="more than 5"):
        prdc(np.zeros((5, 2)), np.zeros((10, 2)))
    with pytest.raises(DataError, match="dimension"):
        prdc(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(DataError, match="NaN"):
        prdc(np.full((10, 2), np.nan), np.zeros((10, 2)))
