"""Peak signal-to-noise ratio (PSNR) of paired images: outputs against their targets.

For one image pair with mean squared error MSE over all its pixels and channels,

    PSNR = 10 log10(L^2 / MSE)  dB,

L being the data range. Images are uint8 on 0..255 (L = 255) or floats in [-1, 1] (L = 2);
uint8 images are mapped to [-1, 1] first, which leaves PSNR unchanged (both L^2 and MSE scale
by (2/255)^2), so the two kinds may be mixed. The set's PSNR is the mean over images of the
per-image PSNR, the convention of super-resolution tables (e.g. Ledig et al., "Photo-Realistic
Single Image Super-Resolution Using a Generative Adversarial Network", CVPR 2017).

An identical pair has MSE 0 and PSNR +inf (no cap), so one exact copy makes the mean +inf;
``gankit eval``-style JSON writes non-finite values as null. Float64 throughout.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.metrics._arrays import image_pair_batches
from gankit.metrics.registry import PAIRS, MetricInputs, register_metric

#: The data range L of images on [-1, 1] (uint8 images, L = 255, are mapped there).
DATA_RANGE = 2.0
#: Image pairs per chunk: memory stays bounded and results do not depend on it.
DEFAULT_BATCH = 256


def psnr_per_image(
    outputs, targets, *, batch_size: int = DEFAULT_BATCH, crop: int = 0, y_channel: bool = False
) -> np.ndarray:
    """(N,) PSNR in dB of each pair of (N, C, H, W) images; +inf where a pair is identical.
    ``crop`` border pixels are left out and ``y_channel`` scores RGB images on their BT.601
    luma, as super-resolution tables do (see ``gankit.metrics._arrays.luma``)."""
    values = []
    for o, t in image_pair_batches(outputs, targets, batch_size, crop=crop, y_channel=y_channel):
        mse = ((o - t) ** 2).flatten(1).mean(dim=1)  # (B,)
        values.append(10.0 * torch.log10(DATA_RANGE**2 / mse))  # 1/0 -> +inf
    return torch.cat(values).numpy()


def psnr(
    outputs, targets, *, batch_size: int = DEFAULT_BATCH, crop: int = 0, y_channel: bool = False
) -> float:
    """Mean over images of the per-image PSNR (dB) of ``outputs`` against ``targets``, both
    uint8 (N, C, H, W) on 0..255 or float in [-1, 1]; ``crop`` and ``y_channel`` as in
    :func:`psnr_per_image`."""
    per_image = psnr_per_image(
        outputs, targets, batch_size=batch_size, crop=crop, y_channel=y_channel
    )
    return float(per_image.mean())


@register_metric(
    "psnr",
    needs={PAIRS},
    higher_is_better=True,
    description="peak signal-to-noise ratio of paired images in dB, mean over images, data "
    "range 255 for uint8 / 2 for [-1, 1] (as in SRGAN's tables, Ledig et al., CVPR 2017)",
    keys=("psnr",),
    function=psnr,
)
def _score(inputs: MetricInputs) -> dict[str, float]:
    batch = inputs.batch_size or DEFAULT_BATCH
    value = psnr(
        inputs.outputs, inputs.targets, batch_size=batch, crop=inputs.crop,
        y_channel=inputs.y_channel,
    )  # fmt: skip
    return {"psnr": value}
