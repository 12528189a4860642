"""Kernel Inception Distance (KID).

Bińkowski et al., "Demystifying MMD GANs", ICLR 2018, Sec. 4 ("KID"): the squared maximum
mean discrepancy between two feature sets under the cubic polynomial kernel

    k(x, y) = (x·y / d + 1)^3        (d = feature dimension),

estimated without bias (the U-statistic of Gretton et al., "A Kernel Two-Sample Test",
JMLR 2012) for m samples X and n samples Y::

    MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m-1)) + Σ_{i≠j} k(y_i, y_j) / (n(n-1))
             - 2 Σ_{i,j} k(x_i, y_j) / (mn)

It can be (slightly) negative. KID averages it over ``n_subsets`` random subsets of
``subset_size`` samples of each set (drawn without replacement within a subset) and reports
the mean and the standard deviation over subsets. Defaults n_subsets=100, subset_size=1000 are
those of StyleGAN2-ADA's and torch-fidelity's KID (the paper's own code used 50 subsets of 1000).
Computed in float64.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.errors import DataError
from gankit.metrics._arrays import as_tensor, same_dim
from gankit.metrics.registry import FEATURES, MetricInputs, register_metric

#: Subsets and subset size: the StyleGAN2-ADA / torch-fidelity defaults.
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x·y / d + 1)^3 for all rows of ``x`` against all rows of ``y``."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def polynomial_mmd2(x, y) -> float:
    """Unbiased MMD² between two (N, D) sets under the cubic polynomial kernel (float64)."""
    xt = as_tensor(x, torch.float64, "features1", min_rows=2)
    yt = as_tensor(y, torch.float64, "features2", min_rows=2)
    same_dim(xt, yt, ("features1", "features2"))
    return _mmd2(xt, yt)


def _mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    m, n = x.shape[0], y.shape[0]
    kxx, kyy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    off_xx = kxx.sum() - kxx.diagonal().sum()
    off_yy = kyy.sum() - kyy.diagonal().sum()
    cross = polynomial_kernel(x, y).sum()
    return float(off_xx / (m * (m - 1)) + off_yy / (n * (n - 1)) - 2.0 * cross / (m * n))


def kid(
    features1,
    features2,
    *,
    n_subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased polynomial-kernel MMD² over random subsets.

    ``subset_size`` is capped at the smaller set size; with both sets at or below it every
    subset is the whole set and the std is 0. The subsets come from
    ``numpy.random.default_rng(seed)``, so equal seeds give equal results.
    """
    x = as_tensor(features1, torch.float64, "features1", min_rows=2)
    y = as_tensor(features2, torch.float64, "features2", min_rows=2)
    same_dim(x, y, ("features1", "features2"))
    if n_subsets < 1 or subset_size < 2:
        raise DataError(
            f"KID needs n_subsets >= 1 and subset_size >= 2, got {n_subsets}, {subset_size}"
        )
    size = min(subset_size, x.shape[0], y.shape[0])
    rng = np.random.default_rng(seed)
    values = np.empty(n_subsets)
    for i in range(n_subsets):
        ix = torch.from_numpy(rng.choice(x.shape[0], size, replace=False))
        iy = torch.from_numpy(rng.choice(y.shape[0], size, replace=False))
        values[i] = _mmd2(x[ix], y[iy])
    return float(values.mean()), float(values.std())


@register_metric(
    "kid",
    needs={FEATURES},
    higher_is_better=False,
    description="unbiased polynomial-kernel MMD² of the features over 100 subsets of 1000 "
    "(Bińkowski et al., ICLR 2018)",
    keys=("kid", "kid_std"),
    function=kid,
)
def _score(inputs: MetricInputs) -> dict[str, float]:
    mean, std = kid(inputs.features, inputs.ref_features)
    return {"kid": mean, "kid_std": std}
