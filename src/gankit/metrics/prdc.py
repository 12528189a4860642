"""k-NN manifold metrics: improved precision & recall, density & coverage.

Improved precision and recall (Kynkäänniemi et al., "Improved Precision and Recall Metric
for Assessing Generative Models", NeurIPS 2019, Sec. 2). Each sample of a set Φ gets a
hypersphere whose radius is the distance to its k-th nearest neighbour inside Φ::

    f(φ, Φ) = 1  if  ||φ - φ'|| <= ||φ' - NN_k(φ', Φ)||  for at least one φ' in Φ, else 0
    precision(Φ_r, Φ_g) = 1/|Φ_g| Σ_{φ_g} f(φ_g, Φ_r)
    recall(Φ_r, Φ_g)    = 1/|Φ_r| Σ_{φ_r} f(φ_r, Φ_g)

with k = 3 (the paper's choice). The comparison is "<=", as in the paper and its code.

Density and coverage (Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
Models", ICML 2020, Sec. 3), real samples X_1..X_N, fake samples Y_1..Y_M::

    density  = 1/(kM) Σ_j Σ_i 1[Y_j ∈ B(X_i, NND_k(X_i))]
    coverage = 1/N Σ_i 1[∃ j: Y_j ∈ B(X_i, NND_k(X_i))]

with k = 5 (the paper's choice) and open balls ("<"), as in the authors' code, so that a set
compared with itself gets density exactly 1 when there are no distance ties.

Distances are computed in ``chunk_size x chunk_size`` blocks (see ``_distances``), float32
by default; pass ``dtype=torch.float64`` for exact tie behaviour on small sets.
"""

from __future__ import annotations

import torch

from gankit.errors import DataError
from gankit.metrics._arrays import as_tensor, same_dim
from gankit.metrics._distances import (
    DEFAULT_CHUNK,
    blocks,
    centre,
    knn_sq_radii,
    sq_dist_block,
)
from gankit.metrics.registry import FEATURES, MetricInputs, register_metric


def prdc(
    real,
    fake,
    *,
    k_pr: int = 3,
    k_dc: int = 5,
    chunk_size: int = DEFAULT_CHUNK,
    dtype: torch.dtype = torch.float32,
    want_pr: bool = True,
    want_dc: bool = True,
) -> dict[str, float]:
    """Precision, recall (k=``k_pr``), density and coverage (k=``k_dc``) of ``fake`` against
    ``real``, both (N, D) feature arrays, in one pass over the real-fake distances.

    Returns a dict with the keys ``precision``, ``recall`` (when ``want_pr``) and ``density``,
    ``coverage`` (when ``want_dc``).
    """
    if not (want_pr or want_dc):
        raise DataError("prdc: nothing to compute (want_pr and want_dc are both False)")
    r = as_tensor(real, dtype, "real features", min_rows=2)
    f = as_tensor(fake, dtype, "fake features", min_rows=1)
    same_dim(r, f, ("real features", "fake features"))
    r, f = centre(r, f)
    ks = ([k_pr] if want_pr else []) + ([k_dc] if want_dc else [])
    real_r2 = knn_sq_radii(r, ks, chunk_size)
    fake_r2 = knn_sq_radii(f, [k_pr], chunk_size)[k_pr] if want_pr else None

    nr, nf = r.shape[0], f.shape[0]
    precise = torch.zeros(nf, dtype=torch.bool)
    recalled = torch.zeros(nr, dtype=torch.bool)
    inside = torch.zeros(nf, dtype=torch.int64)
    nearest = torch.full((nr,), float("inf"), dtype=dtype)
    r_sq, f_sq = (r * r).sum(dim=1), (f * f).sum(dim=1)
    for i0, i1 in blocks(nr, chunk_size):
        for j0, j1 in blocks(nf, chunk_size):
            d = sq_dist_block(r[i0:i1], r_sq[i0:i1], f[j0:j1], f_sq[j0:j1])
            if want_pr:
                precise[j0:j1] |= (d <= real_r2[k_pr][i0:i1, None]).any(dim=0)
                recalled[i0:i1] |= (d <= fake_r2[None, j0:j1]).any(dim=1)
            if want_dc:
                inside[j0:j1] += (d < real_r2[k_dc][i0:i1, None]).sum(dim=0)
                nearest[i0:i1] = torch.minimum(nearest[i0:i1], d.min(dim=1).values)

    out: dict[str, float] = {}
    if want_pr:
        out["precision"] = precise.double().mean().item()
        out["recall"] = recalled.double().mean().item()
    if want_dc:
        out["density"] = inside.sum().item() / (k_dc * nf)
        out["coverage"] = (nearest < real_r2[k_dc]).double().mean().item()
    return out


def precision_recall(
    real, fake, *, k: int = 3, chunk_size: int = DEFAULT_CHUNK, dtype=torch.float32
) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019), k-NN radii with ``k``."""
    return prdc(real, fake, k_pr=k, chunk_size=chunk_size, dtype=dtype, want_dc=False)


def density_coverage(
    real, fake, *, k: int = 5, chunk_size: int = DEFAULT_CHUNK, dtype=torch.float32
) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020), k-NN radii of the real samples with ``k``."""
    return prdc(real, fake, k_dc=k, chunk_size=chunk_size, dtype=dtype, want_pr=False)


# Registered adapters. Chosen together, the two pairs share one pass over the distances: the
# first computes all four numbers and the second adds nothing.
@register_metric(
    "precision_recall",
    needs={FEATURES},
    higher_is_better=True,
    description="improved precision (fidelity) and recall (diversity) by k-NN balls, k=3 "
    "(Kynkäänniemi et al., NeurIPS 2019)",
    keys=("precision", "recall"),
    function=precision_recall,
)
def _score_pr(inputs: MetricInputs) -> dict[str, float]:
    want_dc = "density_coverage" in inputs.chosen
    return prdc(inputs.ref_features, inputs.features, want_pr=True, want_dc=want_dc)


@register_metric(
    "density_coverage",
    needs={FEATURES},
    higher_is_better=True,
    description="density and coverage by k-NN balls of the real samples, k=5 "
    "(Naeem et al., ICML 2020)",
    keys=("density", "coverage"),
    function=density_coverage,
)
def _score_dc(inputs: MetricInputs) -> dict[str, float]:
    if "precision_recall" in inputs.chosen:
        return {}  # computed together with precision_recall
    return prdc(inputs.ref_features, inputs.features, want_pr=False, want_dc=True)
