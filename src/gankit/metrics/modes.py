"""Mode coverage on toy Gaussian mixtures, and class coverage of labelled samples.

Toy mixtures (2D ring, 2D grid) follow VEEGAN (Srivastava et al., NeurIPS 2017, Sec. 5.1) and
PacGAN (Lin et al., NeurIPS 2018, 2D-ring/2D-grid experiments and released metric code): each
generated sample is assigned to its nearest mixture centre; it is *high quality* if it lies
within 3 standard deviations of that centre (strictly closer, as in PacGAN's code); a mode is
*captured* when it receives at least one high-quality sample (``min_count=1``, the rule of
both papers; raise it to demand more). PacGAN also reports the reverse KL divergence between
the generator's distribution over modes and the true (uniform) one, computed here on the
histogram h of high-quality samples over the M modes::

    reverse_kl = KL(h || U) = Σ_m h_m log(M h_m),   0·log 0 = 0,

which is 0 for a balanced histogram and log M when all samples fall in one mode (it is NaN
when there are no high-quality samples at all, since h is then undefined).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import xlogy

from gankit.errors import DataError
from gankit.metrics._arrays import as_matrix64, as_numpy64
from gankit.metrics.registry import (
    CLASSIFIER,
    MODE_CENTRES,
    SAMPLES,
    MetricInputs,
    register_metric,
)


def mode_coverage(
    samples, centers, std: float, *, n_std: float = 3.0, min_count: int = 1
) -> dict[str, float | int]:
    """Mode statistics of (N, D) ``samples`` against an isotropic mixture with (M, D)
    ``centers`` and per-axis standard deviation ``std``.

    Returns ``modes_captured``, ``num_modes``, ``high_quality_fraction`` and ``reverse_kl``.
    """
    x = as_matrix64(samples, "samples", min_rows=1)
    c = as_matrix64(centers, "centers", min_rows=1)
    if x.shape[1] != c.shape[1]:
        raise DataError(f"samples are {x.shape[1]}-D but centers are {c.shape[1]}-D")
    if not std > 0 or not n_std > 0 or min_count < 1:
        raise DataError(f"need std > 0, n_std > 0, min_count >= 1; got {std}, {n_std}, {min_count}")
    nearest, dist2 = _nearest_centre(x, c)
    good = dist2 < (n_std * std) ** 2
    counts = np.bincount(nearest[good], minlength=len(c))
    total = int(counts.sum())
    if total == 0:
        reverse_kl = math.nan
    else:
        h = counts / total
        reverse_kl = float(xlogy(h, h * len(c)).sum())
    return {
        "modes_captured": int((counts >= min_count).sum()),
        "num_modes": len(c),
        "high_quality_fraction": total / len(x),
        "reverse_kl": reverse_kl,
    }


def _nearest_centre(x: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and squared distance to the nearest centre, a bounded block of rows at a time."""
    nearest = np.empty(len(x), dtype=np.int64)
    dist2 = np.empty(len(x))
    step = max(1, 2**22 // (c.shape[0] * c.shape[1]))
    for s in range(0, len(x), step):
        sq = ((x[s : s + step, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        nearest[s : s + step] = sq.argmin(axis=1)
        dist2[s : s + step] = sq.min(axis=1)
    return nearest, dist2


def class_coverage(
    pred_labels, ref_labels, num_classes: int, *, eps: float = 1e-6, min_count: int = 1
) -> dict[str, float | int]:
    """Class coverage of predicted labels (e.g. a classifier on Stacked-MNIST samples).

    Returns ``classes_covered`` (classes predicted at least ``min_count`` times),
    ``num_classes`` and ``kl`` = KL(p_pred || p_ref) between the class histograms (the reverse
    KL of VEEGAN/PacGAN's Stacked-MNIST tables), each histogram smoothed as
    p = (counts / N + eps) / (1 + K eps) so that classes absent from the reference do not make
    it infinite.
    """
    if num_classes < 1:
        raise DataError(f"num_classes must be >= 1, got {num_classes}")
    pred = _labels(pred_labels, "pred_labels", num_classes)
    ref = _labels(ref_labels, "ref_labels", num_classes)
    cp = np.bincount(pred, minlength=num_classes)
    cr = np.bincount(ref, minlength=num_classes)
    p = (cp / cp.sum() + eps) / (1.0 + num_classes * eps)
    q = (cr / cr.sum() + eps) / (1.0 + num_classes * eps)
    return {
        "classes_covered": int((cp >= min_count).sum()),
        "num_classes": int(num_classes),
        "kl": float(np.sum(p * np.log(p / q))),
    }


def _labels(labels, name: str, num_classes: int) -> np.ndarray:
    arr = as_numpy64(labels, name).reshape(-1)
    if arr.size == 0:
        raise DataError(f"{name} is empty")
    if np.any(arr != np.round(arr)) or arr.min() < 0 or arr.max() >= num_classes:
        raise DataError(
            f"{name} must be integers in [0, {num_classes}), got values {arr.min()}..{arr.max()}"
        )
    return arr.astype(np.int64)


@register_metric(
    "mode_coverage",
    needs={SAMPLES, MODE_CENTRES},
    higher_is_better=True,
    description="modes of a 2-D Gaussian mixture captured within 3 std, and reverse KL "
    "(VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018)",
    keys=("modes_captured", "num_modes", "high_quality_fraction", "reverse_kl"),
    function=mode_coverage,
)
def _score_modes(inputs: MetricInputs) -> dict[str, float | int]:
    points = torch.as_tensor(inputs.samples).float()
    return mode_coverage(points, inputs.centers, inputs.std)


@register_metric(
    "class_coverage",
    needs={CLASSIFIER},
    higher_is_better=True,
    description="classes a classifier finds among the samples, and KL to the reference's "
    "class histogram (Stacked-MNIST count of VEEGAN / PacGAN)",
    keys=("classes_covered", "num_classes", "class_kl"),
    function=class_coverage,
)
def _score_classes(inputs: MetricInputs) -> dict[str, float | int]:
    if inputs.ref_predicted is None:
        raise DataError("class_coverage needs the classifier's predicted classes of the reference")
    num = inputs.probs.shape[1]
    predicted = inputs.predicted if inputs.predicted is not None else inputs.probs.argmax(1)
    cc = class_coverage(predicted, inputs.ref_predicted, num)
    return {"classes_covered": cc["classes_covered"], "num_classes": num, "class_kl": cc["kl"]}
