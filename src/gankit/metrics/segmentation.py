"""Per-pixel sensitivity and specificity, and lesion-level detection, of predicted masks.

For a class k with predicted pixels P_k and target pixels T_k, pooled over every pixel of
every image (so the value does not depend on batching), as in the tables of Kohl et al.
2017 (Table 1, "tumor sensitivity / specificity"):

    sensitivity_k = |P_k ∩ T_k| / |T_k|                 (true-positive rate, recall)
    specificity_k = |not P_k ∩ not T_k| / |not T_k|     (true-negative rate)

Binary masks (0 / 1) give the values of the foreground class 1; integer masks 0..K-1 the
mean over the foreground classes 1..K-1 present in the targets (a class absent from the
targets has no sensitivity). With no foreground in the targets the value is NaN.

Lesion detection rate: a lesion is a connected component of a foreground class in a target
mask (scipy.ndimage.label, 4-connectivity: pixels that share an edge); it counts as found
when any of its pixels is predicted as its class. The rate is found / all lesions, pooled
over the set (NaN when the targets hold no lesion). Dice is gankit.metrics.dice.

``evaluate_segmentation(run)`` scores a segmentation run's ``apply`` model on its dataset's
test split (`gankit eval RUN`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from gankit.errors import ConfigError
from gankit.metrics._arrays import mask_pair
from gankit.metrics.dice import DEFAULT_BATCH, confusion, dice
from gankit.metrics.registry import MASKS, MetricInputs, register_metric

SEGMENTATION_METRICS = ("dice", "sensitivity", "specificity", "lesion_detection")


def _rates(outputs, targets, batch_size: int) -> tuple[float, float]:
    """(sensitivity, specificity), each the mean over the foreground classes in the targets."""
    c, k = confusion(outputs, targets, batch_size=batch_size)  # C[predicted, target]
    total = c.sum()
    sens, spec = [], []
    for j in range(1, k):
        t = c[:, j].sum()  # |T_j|
        if t == 0:
            continue
        tp, p = c[j, j], c[j, :].sum()
        sens.append(tp / t)
        negatives = total - t  # every pixel of class j: no negatives, no specificity
        if negatives:
            spec.append((negatives - (p - tp)) / negatives)
    mean = [float(np.mean(v)) if v else math.nan for v in (sens, spec)]
    return mean[0], mean[1]


def sensitivity(outputs, targets, *, batch_size: int = DEFAULT_BATCH) -> float:
    """Per-pixel true-positive rate of the foreground (mean over foreground classes)."""
    return _rates(outputs, targets, batch_size)[0]


def specificity(outputs, targets, *, batch_size: int = DEFAULT_BATCH) -> float:
    """Per-pixel true-negative rate of the foreground (mean over foreground classes)."""
    return _rates(outputs, targets, batch_size)[1]


def lesion_counts(outputs, targets) -> tuple[int, int]:
    """(lesions found, lesions) over the set; see the module docstring."""
    from scipy.ndimage import label

    o, t = (a.numpy() for a in mask_pair(outputs, targets))
    found = total = 0
    for pred, true in zip(o, t, strict=True):
        for k in np.unique(true[true > 0]):
            components, n = label(true == k)  # 4-connectivity: scipy's default structure
            hit = np.unique(components[(pred == k) & (components > 0)])
            found += len(hit)
            total += n
    return found, total


def lesion_detection(outputs, targets) -> float:
    """Share of the target lesions (connected components) that the prediction overlaps."""
    found, total = lesion_counts(outputs, targets)
    return found / total if total else math.nan


def _batch(inputs: MetricInputs) -> int:
    return inputs.batch_size or DEFAULT_BATCH


@register_metric(
    "sensitivity",
    needs={MASKS},
    higher_is_better=True,
    description="per-pixel sensitivity |P∩T|/|T| of the foreground of label masks (Kohl et al. "
    "2017, Table 1)",
    keys=("sensitivity",),
    function=sensitivity,
)
def _sensitivity(inputs: MetricInputs) -> dict[str, float]:
    return {"sensitivity": sensitivity(inputs.outputs, inputs.targets, batch_size=_batch(inputs))}


@register_metric(
    "specificity",
    needs={MASKS},
    higher_is_better=True,
    description="per-pixel specificity of the foreground of label masks: true-negative rate",
    keys=("specificity",),
    function=specificity,
)
def _specificity(inputs: MetricInputs) -> dict[str, float]:
    return {"specificity": specificity(inputs.outputs, inputs.targets, batch_size=_batch(inputs))}


@register_metric(
    "lesion_detection",
    needs={MASKS},
    higher_is_better=True,
    description="share of target lesions (connected components) the predicted mask overlaps",
    keys=("lesion_detection",),
    function=lesion_detection,
)
def _detection(inputs: MetricInputs) -> dict[str, float]:
    return {"lesion_detection": lesion_detection(inputs.outputs, inputs.targets)}


def segmentation_scores(predicted, targets) -> dict[str, float]:
    """Dice, sensitivity, specificity and lesion detection of masks against true masks."""
    sens, spec = _rates(predicted, targets, DEFAULT_BATCH)
    found, total = lesion_counts(predicted, targets)
    return {
        "dice": dice(predicted, targets),
        "sensitivity": sens,
        "specificity": spec,
        "lesion_detection": found / total if total else math.nan,
        "lesions": total,
    }


# --- scoring a run --------------------------------------------------------------------------
def is_segmentation_run(run_dir: str | os.PathLike) -> bool:
    """Whether a run directory holds a segmenter (an ``apply`` map whose output is labels)."""
    from gankit.runs import run_exports

    path = Path(run_dir).expanduser()
    if not (path / "config.json").is_file():
        return False
    try:
        e = run_exports(path).get("apply")
    except Exception:  # noqa: BLE001 - no readable checkpoint: not ours to judge here
        return False
    return e is not None and e.kind == "map" and "labels" in e.output


def evaluate_segmentation(
    run_dir: str | os.PathLike,
    *,
    n: int = 2000,
    split: str | None = None,
    device: Any = "cpu",
    batch_size: int = 250,
    ema: bool = True,
) -> dict[str, Any]:
    """The scores of :func:`segmentation_scores` of a run's segmenter on ``n`` items of its
    dataset's ``split`` (default: test, else train)."""
    from gankit.metrics.evaluate import _load_split
    from gankit.runs import RunDir, load_model

    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    cfg = RunDir.open(run_dir).config()
    d = cfg.data
    kw = dict(root=d.root, image_size=d.image_size, channels=d.channels, seed=cfg.train.seed)
    data, used = _load_split(d.name, split, **kw)
    model = load_model(run_dir, "apply", ema=ema, device=device)
    x, mask = data.x[:n], data.fields["mask"][:n]
    res: dict[str, Any] = {
        "source": f"run {run_dir} (step {model.step})",
        "reference": f"{data.name}:{used}",
        "n": len(x),
    }
    res.update(segmentation_scores(model(x, batch_size=batch_size).long(), mask))
    return res
