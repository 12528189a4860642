"""KID: brute-force U-statistic, exact unbiasedness over subsets, behaviour, seeding."""

import itertools

import numpy as np
import pytest

from gankit.errors import DataError
from gankit.metrics import METRICS, kid, polynomial_mmd2


def brute_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, by explicit double loops."""
    d = x.shape[1]

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_matches_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((9, 4)), rng.standard_normal((7, 4)) + 0.3
    assert polynomial_mmd2(x, y) == pytest.approx(brute_mmd2(x, y), rel=1e-12)
    # Whole-set subsets: KID's single subset estimate is the U-statistic of all samples.
    mean, std = kid(x[:7], y, n_subsets=3, subset_size=50)
    assert mean == pytest.approx(brute_mmd2(x[:7], y), rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_subset_estimates_are_exactly_unbiased():
    """Averaged over every pair of size-s subsets, the estimator equals the full-set U-statistic
    (each within-set pair and each cross pair is counted equally often)."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)) * 1.5
    subsets = list(itertools.combinations(range(6), 3))
    average = np.mean([brute_mmd2(x[list(a)], y[list(b)]) for a in subsets for b in subsets])
    assert average == pytest.approx(brute_mmd2(x, y), rel=1e-10)
    assert average == pytest.approx(polynomial_mmd2(x, y), rel=1e-10)


def test_identical_distributions_near_zero():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((1000, 16)), rng.standard_normal((1000, 16))
    mean, std = kid(x, y, n_subsets=50, subset_size=200)
    assert std > 0
    assert abs(mean) < std


def test_shifted_gaussians_positive_and_increasing():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1000, 16))
    noise = rng.standard_normal((1000, 16))
    means = []
    for shift in (0.25, 0.5, 1.0, 2.0):
        mean, std = kid(x, noise + shift, n_subsets=50, subset_size=200)
        assert mean > 3 * std
        means.append(mean)
    assert means == sorted(means)
    far, _ = kid(x, noise + 50.0, n_subsets=5, subset_size=200)
    assert far > means[-1]


def test_seeded_reproducibility():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) + 0.2
    assert kid(x, y, n_subsets=10, subset_size=100, seed=7) == kid(
        x, y, n_subsets=10, subset_size=100, seed=7
    )
    assert kid(x, y, n_subsets=10, subset_size=100, seed=7) != kid(
        x, y, n_subsets=10, subset_size=100, seed=8
    )


def test_validation_and_registry():
    with pytest.raises(DataError):
        kid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(DataError):
        kid(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(DataError):
        kid(np.zeros((5, 3)), np.zeros((5, 3)), n_subsets=0)
    assert METRICS.get("kid") is kid
