"""FID: independent eigen-decomposition reference, closed forms, streaming statistics."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gankit.errors import DataError
from gankit.metrics import (
    METRICS,
    RunningStats,
    feature_statistics,
    fid_from_features,
    frechet_distance,
)


def reference_fid(mu1, s1, mu2, s2):
    """||mu1-mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(sqrt(S1) S2 sqrt(S1)), by symmetric eigh."""
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root1 @ s2 @ root1
    ev = np.linalg.eigvalsh((inner + inner.T) / 2)
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum()


def random_spd(rng, d):
    a = rng.standard_normal((d, 2 * d))
    return a @ a.T / (2 * d) + 0.01 * np.eye(d)


@pytest.mark.parametrize("d", [1, 8, 64])
def test_matches_independent_eigen_computation(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(reference_fid(mu1, s1, mu2, s2), rel=1e-6)


def test_accepts_torch_inputs():
    rng = np.random.default_rng(1)
    mu1, mu2, s1, s2 = (
        rng.standard_normal(4),
        rng.standard_normal(4),
        random_spd(rng, 4),
        random_spd(rng, 4),
    )
    as_t = [torch.from_numpy(v).float() for v in (mu1, s1, mu2, s2)]
    assert frechet_distance(*as_t) == pytest.approx(frechet_distance(mu1, s1, mu2, s2), rel=1e-5)


def test_same_set_is_zero():
    rng = np.random.default_rng(2)
    f = rng.standard_normal((2000, 32)) * 3.0 + 1.0
    scale = np.trace(np.cov(f, rowvar=False))
    assert 0.0 <= fid_from_features(f, f) < 1e-6 * scale


def test_closed_form_isotropic_gaussians():
    d, m1, m2, s1, s2 = 10, 0.3, -0.2, 1.5, 0.7
    expected = d * (m1 - m2) ** 2 + d * (s1 - s2) ** 2
    exact = frechet_distance(np.full(d, m1), s1**2 * np.eye(d), np.full(d, m2), s2**2 * np.eye(d))
    assert exact == pytest.approx(expected, rel=1e-12)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50_000, d)) * s1 + m1
    y = rng.standard_normal((50_000, d)) * s2 + m2
    assert fid_from_features(x, y) == pytest.approx(expected, rel=0.03)


def test_singular_covariances_fall_back_gracefully():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((20, 64)), rng.standard_normal((20, 64)) + 0.5
    value = fid_from_features(x, y)  # rank-19 covariances in 64 dimensions
    (mu1, s1), (mu2, s2) = feature_statistics(x), feature_statistics(y)
    assert np.isfinite(value)
    assert value == pytest.approx(reference_fid(mu1, s1, mu2, s2), rel=1e-3)


def test_large_imaginary_part_raises():
    eye = np.eye(3)
    with pytest.raises(DataError, match="imaginary"):
        frechet_distance(np.zeros(3), eye, np.zeros(3), -eye)


def test_bad_shapes_raise():
    with pytest.raises(DataError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(DataError):
        fid_from_features(np.zeros((1, 3)), np.zeros((5, 3)))  # one sample: no covariance


@pytest.mark.parametrize("batch", [1, 7, 100, 1000])
def test_running_stats_batch_size_independent(batch):
    rng = np.random.default_rng(5)
    f = rng.standard_normal((1000, 16)) * 2.0 + 5.0
    stats = RunningStats()
    for start in range(0, len(f), batch):
        stats.update(f[start : start + batch])
    mu, sigma = stats.compute()
    np.testing.assert_allclose(mu, f.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(f, rowvar=False), rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=199), max_size=6, unique=True))
def test_running_stats_any_split(cuts):
    f = np.random.default_rng(6).standard_normal((200, 5)) + 3.0
    parts = np.split(f, sorted(cuts))
    mu, sigma = feature_statistics(iter(parts))
    np.testing.assert_allclose(mu, f.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(f, rowvar=False), rtol=1e-10, atol=1e-12)


def test_running_stats_large_offset_is_stable():
    f = np.random.default_rng(7).standard_normal((1000, 4)) * 1e-3 + 1e4
    _, sigma = feature_statistics(torch.from_numpy(f).split(64))
    np.testing.assert_allclose(sigma, np.cov(f, rowvar=False), rtol=1e-6)


def test_streamed_fid_equals_one_shot():
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((600, 12)), rng.standard_normal((500, 12)) * 1.2
    streamed = fid_from_features((x[i : i + 50] for i in range(0, 600, 50)), torch.from_numpy(y))
    assert streamed == pytest.approx(fid_from_features(x, y), rel=1e-10)
    assert METRICS.get("fid") is fid_from_features


def test_dimension_change_between_batches_raises():
    stats = RunningStats().update(np.zeros((3, 4)))
    with pytest.raises(DataError, match="dimension"):
        stats.update(np.zeros((3, 5)))


def test_agrees_with_torchmetrics():
    fid_module = pytest.importorskip("torchmetrics.image.fid")

    class Lookup(torch.nn.Module):
        """A 'feature extractor' that returns fixed rows of a table, given their indices."""

        def __init__(self, table):
            super().__init__()
            self.register_buffer("table", table)
            self.num_features = table.shape[1]

        def forward(self, idx):
            return self.table[idx.long()]

    gen = torch.Generator().manual_seed(9)
    real = torch.randn(500, 16, generator=gen, dtype=torch.float64)
    fake = torch.randn(400, 16, generator=gen, dtype=torch.float64) * 1.3 + 0.2
    metric = fid_module.FrechetInceptionDistance(feature=Lookup(torch.cat([real, fake])))
    idx = torch.arange(900)
    for start in range(0, 500, 128):
        metric.update(idx[start : min(start + 128, 500)], real=True)
    metric.update(idx[500:], real=False)
    theirs = float(metric.compute())
    assert fid_from_features(real, fake) == pytest.approx(theirs, rel=1e-6)


def test_failed_square_root_retries_with_offset(monkeypatch):
    import scipy.linalg

    real_sqrtm, calls = scipy.linalg.sqrtm, []

    def flaky_sqrtm(a):
        calls.append(a)
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(scipy.linalg, "sqrtm", flaky_sqrtm)
    rng = np.random.default_rng(10)
    mu, s1, s2 = rng.standard_normal(5), random_spd(rng, 5), random_spd(rng, 5)
    with pytest.warns(RuntimeWarning, match="singular"):
        value = frechet_distance(mu, s1, mu, s2, eps=1e-6)
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(5)) @ (s2 + 1e-6 * np.eye(5)))
    assert value == pytest.approx(reference_fid(mu, s1, mu, s2), rel=1e-4)
