"""Dice coefficient of predicted label masks against target masks.

Dice, "Measures of the Amount of Ecologic Association Between Species", Ecology 1945 (the
Sørensen-Dice index), as used for segmentation (e.g. Milletari et al., V-Net, 3DV 2016): for
a class k with predicted pixels P_k and target pixels T_k,

    Dice_k = 2 |P_k ∩ T_k| / (|P_k| + |T_k|).

Counts are pooled over every pixel of every image of the set, so the value does not depend on
how the set is split into batches. Binary masks (bool, or labels 0 / 1) give the Dice of the
foreground, class 1. Integer masks with classes 0..K-1 give the mean over classes 1..K-1
(class 0 is background; ``include_background=True`` counts it too), skipping classes absent
from both the predictions and the targets; when every counted class is absent from both, the
masks agree perfectly and Dice is 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gankit.errors import DataError
from gankit.metrics._arrays import mask_pair
from gankit.metrics.registry import MASKS, MetricInputs, register_metric

DEFAULT_BATCH = 256  # masks per chunk of the confusion count


def confusion(outputs, targets, num_classes: int | None = None, *, batch_size: int = DEFAULT_BATCH):
    """(K, K) int64 counts C[predicted, target] over all pixels, and K (``num_classes`` or
    the largest label + 1, at least 2)."""
    o, t = mask_pair(outputs, targets)
    if o.numel() == 0:
        raise DataError(f"masks of shape {tuple(o.shape)} hold no pixels")
    top = max(int(o.max()), int(t.max())) + 1
    k = max(2, top) if num_classes is None else num_classes
    if k < 2 or top > k:
        raise DataError(
            f"num_classes={num_classes} but the masks hold labels up to {top - 1}; "
            "labels must be 0..num_classes-1 and num_classes >= 2"
        )
    counts = torch.zeros(k * k, dtype=torch.int64)
    for s in range(0, o.shape[0], batch_size):
        pair = o[s : s + batch_size].reshape(-1) * k + t[s : s + batch_size].reshape(-1)
        counts += torch.bincount(pair, minlength=k * k)
    return counts.reshape(k, k).numpy(), k


def dice_per_class(
    outputs, targets, num_classes: int | None = None, *, batch_size: int = DEFAULT_BATCH
) -> list[float]:
    """Dice of every class 0..K-1 (NaN for a class in neither predictions nor targets)."""
    c, k = confusion(outputs, targets, num_classes, batch_size=batch_size)
    overlap = np.diag(c).astype(np.float64)
    sizes = c.sum(axis=1) + c.sum(axis=0)  # |P_k| + |T_k|
    return [2.0 * overlap[j] / sizes[j] if sizes[j] else math.nan for j in range(k)]


def dice(
    outputs,
    targets,
    num_classes: int | None = None,
    *,
    include_background: bool = False,
    batch_size: int = DEFAULT_BATCH,
) -> float:
    """Dice of binary masks (class 1), or the mean Dice over classes 1..K-1 of integer masks
    (0..K-1 with ``include_background``); masks are (N, H, W) or (N, 1, H, W)."""
    per = dice_per_class(outputs, targets, num_classes, batch_size=batch_size)
    counted = [v for v in per[0 if include_background else 1 :] if not math.isnan(v)]
    return float(np.mean(counted)) if counted else 1.0


@register_metric(
    "dice",
    needs={MASKS},
    higher_is_better=True,
    description="Dice coefficient 2|P∩T|/(|P|+|T|) of label masks, mean over foreground "
    "classes (Dice 1945)",
    keys=("dice",),
    function=dice,
)
def _score(inputs: MetricInputs) -> dict[str, float]:
    batch = inputs.batch_size or DEFAULT_BATCH
    return {"dice": dice(inputs.outputs, inputs.targets, batch_size=batch)}
