"""``score_pairs``: metrics of aligned (output, target) arrays, dispatched by the registry.

Image-to-image translation, super-resolution and segmentation produce one output per input
with a known target; these metrics compare each output with its own target instead of a sample
set with a reference. Every metric registered with the need ``pairs`` (images) or ``masks``
(label masks) is available here, e.g. ``psnr``, ``ssim``, ``dice``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gankit.errors import ConfigError, DataError
from gankit.metrics.registry import MetricInputs, compute_metric, parse_metric_names

DEFAULT_PAIRED = ("psnr", "ssim")


def score_pairs(
    outputs: Any,
    targets: Any,
    metrics: str | Sequence[str] = DEFAULT_PAIRED,
    *,
    batch_size: int | None = None,
    crop: int = 0,
    y_channel: bool = False,
) -> dict[str, float]:
    """Score each output against its target; returns ``{key: value}`` of every chosen metric.

    ``outputs`` and ``targets`` have the same shape: images uint8 (N, C, H, W) on 0..255 or
    float (numpy or torch) in [-1, 1] for ``psnr`` / ``ssim``; label masks (N, H, W) or
    (N, 1, H, W) for ``dice``. ``metrics`` is a comma string or a list of names (see
    ``gankit list``). ``batch_size`` bounds memory (None: each metric's default); the results
    do not depend on it. ``crop`` (border pixels left out) and ``y_channel`` (RGB scored on
    its BT.601 luma) are the super-resolution conventions for ``psnr`` and ``ssim``.
    A bad shape, dtype or range raises :class:`~gankit.errors.DataError`, an unknown metric
    :class:`~gankit.errors.ConfigError`.
    """
    names = parse_metric_names(metrics, "pairs")
    if not names:
        raise ConfigError("no metric chosen; give e.g. metrics=('psnr', 'ssim')")
    o_shape, t_shape = getattr(outputs, "shape", None), getattr(targets, "shape", None)
    if o_shape is not None and t_shape is not None and tuple(o_shape) != tuple(t_shape):
        raise DataError(
            f"outputs and targets must have the same shape, got {tuple(o_shape)} and "
            f"{tuple(t_shape)}: each output is scored against the target at the same index"
        )
    inputs = MetricInputs(
        outputs=outputs, targets=targets, chosen=names, batch_size=batch_size, crop=crop,
        y_channel=y_channel,
    )  # fmt: skip
    out: dict[str, float] = {}
    for name in names:
        out.update(compute_metric(name, inputs))
    return out
