"""Inception Score from class probabilities.

Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, Sec. 4:

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x),

computed separately on ``splits`` contiguous, near-equal parts of the samples (p(y) being the
marginal of each part, as in the paper's code) and reported as the mean and standard deviation
(ddof=0) over the parts; ``splits=10`` is the paper's code default. Terms with p(y|x) = 0
contribute 0 (0·log 0 = 0). Float64.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from gankit.errors import DataError
from gankit.metrics._arrays import as_matrix64
from gankit.metrics.registry import CLASSIFIER, MetricInputs, register_metric

#: Rows of ``probs`` must sum to 1 within this tolerance.
ROW_SUM_TOL = 1e-3
#: Splits of the paper's code (fewer when there are fewer samples).
SPLITS = 10


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of the Inception Score of (N, K) class probabilities over ``splits`` parts.

    ``probs`` must be non-negative with rows summing to 1 (apply a softmax to logits first).
    Ranges from 1 (every sample gets the same prediction) to K (confident and balanced).
    """
    p = as_matrix64(probs, "class probabilities", min_rows=1)
    if np.any(p < 0) or np.any(np.abs(p.sum(axis=1) - 1.0) > ROW_SUM_TOL):
        raise DataError(
            "class probabilities must be non-negative with rows summing to 1; "
            "apply a softmax to logits first"
        )
    n = p.shape[0]
    if not 1 <= splits <= n:
        raise DataError(f"splits must be between 1 and the number of samples ({n}), got {splits}")
    scores = np.empty(splits)
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        # Σ_y p log p - p log p(y); where p(y|x) > 0 we also have p(y) > 0.
        kl = xlogy(part, part).sum(axis=1) - xlogy(part, marginal).sum(axis=1)
        scores[i] = np.exp(kl.mean())
    return float(scores.mean()), float(scores.std())


@register_metric(
    "is",
    needs={CLASSIFIER},
    higher_is_better=True,
    description="Inception Score exp E KL(p(y|x) || p(y)) over 10 splits "
    "(Salimans et al., NeurIPS 2016)",
    keys=("is", "is_std"),
    function=inception_score,
)
def _score(inputs: MetricInputs) -> dict[str, float]:
    mean, std = inception_score(inputs.probs, splits=min(SPLITS, len(inputs.probs)))
    return {"is": mean, "is_std": std}
