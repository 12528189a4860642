"""Fréchet distance between feature statistics (FID).

Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", NeurIPS 2017, Sec. "Fréchet Inception Distance (FID)": for Gaussians fitted to
two feature sets,

    d^2((m1, C1), (m2, C2)) = ||m1 - m2||^2 + Tr(C1 + C2 - 2 (C1 C2)^{1/2}).

Statistics are means and unbiased (N - 1) covariances in float64. :class:`RunningStats`
accumulates them over batches, so features never need to be held at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import scipy.linalg

from gankit.errors import DataError
from gankit.metrics._arrays import as_matrix64, as_numpy64
from gankit.metrics.registry import FEATURES, MetricInputs, register_metric

#: Relative residual ||X X - A||_F / ||A||_F above which a matrix square root is redone.
SQRTM_RESIDUAL_TOL = 1e-5
#: Largest tolerated imaginary part on the diagonal of (C1 C2)^{1/2}, relative to max(1, the
#: largest real diagonal entry); smaller imaginary parts are round-off and are dropped.
IMAG_TOL = 1e-3


def _sqrtm(a: np.ndarray) -> np.ndarray:
    """scipy's sqrtm without its singular-matrix warning: the caller checks the residual of
    the root itself and says what it does about it, in words about FID."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scipy.linalg.sqrtm(a)


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    """Tr((sigma1 sigma2)^{1/2}) by scipy.linalg.sqrtm, retried with eps*I added to both
    covariances when the product is (numerically) singular and the root fails."""
    product = sigma1 @ sigma2
    covmean = _sqrtm(product)
    norm = max(np.linalg.norm(product), np.finfo(np.float64).tiny)
    ok = np.all(np.isfinite(covmean))
    if ok:
        ok = np.linalg.norm(covmean @ covmean - product) / norm <= SQRTM_RESIDUAL_TOL
    if not ok:
        warnings.warn(
            f"FID: the product of covariances is singular or ill-conditioned; adding {eps:g} "
            "to their diagonals (more samples than feature dimensions avoids this).",
            RuntimeWarning,
            stacklevel=3,
        )
        offset = eps * np.eye(sigma1.shape[0])
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if not np.all(np.isfinite(covmean)):
        raise DataError("FID: the matrix square root of the covariance product is not finite")
    diag = np.diagonal(covmean)
    if np.iscomplexobj(covmean):
        imag = float(np.max(np.abs(diag.imag)))
        if imag > IMAG_TOL * max(1.0, float(np.max(np.abs(diag.real)))):
            raise DataError(
                f"FID: the square root of the covariance product has a large imaginary part "
                f"({imag:.3g}); are both covariances symmetric positive semi-definite?"
            )
    return float(np.sum(diag.real))


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2}) (Heusel et al. 2017).

    Inputs are (D,) means and (D, D) covariances (numpy or torch); computed in float64.
    Round-off can make the value of two equal distributions a tiny negative number; it is
    clipped to 0.
    """
    m1, m2 = as_numpy64(mu1, "mu1"), as_numpy64(mu2, "mu2")
    s1, s2 = as_numpy64(sigma1, "sigma1"), as_numpy64(sigma2, "sigma2")
    d = m1.shape[0] if m1.ndim == 1 else -1
    if m1.ndim != 1 or m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise DataError(
            "frechet_distance needs means of shape (D,) and covariances of shape (D, D), got "
            f"{m1.shape}, {s1.shape}, {m2.shape}, {s2.shape}"
        )
    diff = m1 - m2
    tr_covmean = _trace_sqrt_product(s1, s2, eps)
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(value, 0.0)


class RunningStats:
    """Mean and covariance of feature batches, accumulated in float64.

    Keeps N, the sum and the sum of outer products of the features, shifted by the first
    batch's mean (the "shifted data" algorithm: algebraically the plain sums, but without the
    cancellation of Σxx^T - N m m^T when the mean is large compared with the spread).
    """

    def __init__(self) -> None:
        self.count = 0
        self._shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None

    def update(self, batch) -> RunningStats:
        """Add a (B, D) batch (numpy or torch); returns self."""
        x = as_matrix64(batch, "feature batch")
        if self._shift is None:
            self._shift = x.mean(axis=0)
            dim = x.shape[1]
            self._sum, self._outer = np.zeros(dim), np.zeros((dim, dim))
        elif x.shape[1] != self._shift.shape[0]:
            raise DataError(
                f"feature batch has dimension {x.shape[1]}, earlier batches had "
                f"{self._shift.shape[0]}"
            )
        xc = x - self._shift
        self._sum += xc.sum(axis=0)
        self._outer += xc.T @ xc
        self.count += x.shape[0]
        return self

    @property
    def mean(self) -> np.ndarray:
        if self._shift is None:
            raise DataError("RunningStats has seen no features")
        return self._shift + self._sum / self.count

    @property
    def covariance(self) -> np.ndarray:
        """Unbiased covariance, (Σ (x-s)(x-s)^T - N (m-s)(m-s)^T) / (N - 1)."""
        if self.count < 2:
            raise DataError(f"a covariance needs at least 2 feature vectors, got {self.count}")
        centred_mean = self._sum / self.count
        cov = (self._outer - self.count * np.outer(centred_mean, centred_mean)) / (self.count - 1)
        return (cov + cov.T) / 2.0

    def compute(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, covariance)."""
        return self.mean, self.covariance


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, unbiased covariance) in float64 of an (N, D) array or tensor, or of an iterable of
    (B, D) batches (streamed through :class:`RunningStats`)."""
    stats = RunningStats()
    if isinstance(features, Iterable) and not hasattr(features, "shape"):
        for batch in features:
            stats.update(batch)
    else:
        stats.update(features)
    return stats.compute()


def fid_from_features(features1, features2, eps: float = 1e-6) -> float:
    """FID between two feature sets, each an (N, D) array/tensor or an iterable of batches."""
    mu1, sigma1 = feature_statistics(features1)
    mu2, sigma2 = feature_statistics(features2)
    return frechet_distance(mu1, sigma1, mu2, sigma2, eps=eps)


@register_metric(
    "fid",
    needs={FEATURES},
    higher_is_better=False,
    description="Fréchet distance between Gaussians fitted to the features "
    "(Heusel et al., NeurIPS 2017)",
    keys=("fid",),
    function=fid_from_features,
)
def _score(inputs: MetricInputs) -> dict[str, float]:
    if inputs.ref_mean is None or inputs.ref_cov is None:  # not cached by the caller
        inputs.ref_mean, inputs.ref_cov = feature_statistics(inputs.ref_features)
    n, dim = len(inputs.features), int(inputs.ref_mean.shape[0])
    if n <= dim:  # the sample covariance has rank < dim: FID is biased upward
        warnings.warn(
            f"FID from {n} samples in {dim} feature dimensions: the covariance is singular, so "
            f"the value is biased upward and comparable only with FIDs of the same n; use "
            f"more than {dim} samples (--n) for a standard estimate.",
            UserWarning,
            stacklevel=2,
        )
    mu, cov = RunningStats().update(inputs.features).compute()
    return {"fid": frechet_distance(mu, cov, inputs.ref_mean, inputs.ref_cov)}
