"""Structural similarity (SSIM) of paired images.

Wang, Bovik, Sheikh & Simoncelli, "Image Quality Assessment: From Error Visibility to
Structural Similarity", IEEE TIP 2004, Eq. 13 with the paper's settings: local statistics under
an 11x11 circular-symmetric Gaussian window with sigma = 1.5, K1 = 0.01, K2 = 0.03,
C1 = (K1 L)^2, C2 = (K2 L)^2, and

    SSIM(x, y) = (2 mu_x mu_y + C1) (2 sigma_xy + C2)
                 / ((mu_x^2 + mu_y^2 + C1) (sigma_x^2 + sigma_y^2 + C2))

at every position where the window lies inside the image (the "valid" region of the paper's
reference code, as in scikit-image and pytorch-msssim), for each channel separately. An image's
SSIM is the mean of that map over channels and positions (the per-channel mean); the set's
SSIM is the mean over images. Images are uint8 on 0..255 or floats in [-1, 1]; both are mapped
to intensities on [0, 1] (L = 1) first. That matters: SSIM is invariant to scaling the images
together with L, but not to shifting them, and the paper's intensities start at 0 (so uint8
with L = 255 and [0, 1] with L = 1 agree, while [-1, 1] with L = 2 would not). Images need
H, W >= 11.

torchmetrics' ``structural_similarity_index_measure`` reflect-pads the image and averages the
map over the padded border too; its ``return_full_image=True`` map cropped by 5 pixels on each
side is exactly this one. Images are not downsampled first (the later ssim.m of Wang's page
does that for large images). Identical images give SSIM 1. Float64 throughout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.errors import DataError
from gankit.metrics._arrays import check_crop, image_pair, image_pair_batches
from gankit.metrics.registry import PAIRS, MetricInputs, register_metric

WINDOW = 11  # Gaussian window size (Wang et al. 2004)
SIGMA = 1.5  # its standard deviation, pixels
K1, K2 = 0.01, 0.03  # stabilising constants
DATA_RANGE = 1.0  # L of intensities on [0, 1]
DEFAULT_BATCH = 64


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> torch.Tensor:
    """(size, size) normalised Gaussian window, float64 (outer product of 1-D Gaussians)."""
    d = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-((d / sigma) ** 2) / 2)
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim_per_image(
    outputs, targets, *, batch_size: int = DEFAULT_BATCH, crop: int = 0, y_channel: bool = False
):
    """(N,) SSIM of each pair of (N, C, H, W) images (mean of the valid-region map over
    channels and positions). ``crop`` border pixels are left out first and ``y_channel``
    scores RGB images on their BT.601 luma (``gankit.metrics._arrays.luma``)."""
    o, _ = image_pair(outputs, targets)
    check_crop(crop, *o.shape[-2:])
    h, w = o.shape[-2] - 2 * crop, o.shape[-1] - 2 * crop
    if h < WINDOW or w < WINDOW:
        raise DataError(
            f"SSIM's {WINDOW}x{WINDOW} window needs images of at least {WINDOW}x{WINDOW} pixels, "
            f"got {h}x{w}"
        )
    c = 1 if (y_channel and o.shape[1] == 3) else o.shape[1]
    kernel = gaussian_window().expand(c, 1, WINDOW, WINDOW)  # (C, 1, k, k): one per channel
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    values = []
    for x, y in image_pair_batches(outputs, targets, batch_size, crop=crop, y_channel=y_channel):
        x, y = (x + 1.0) / 2.0, (y + 1.0) / 2.0  # [-1, 1] -> intensities on [0, 1]
        b = x.shape[0]
        stats = F.conv2d(torch.cat([x, y, x * x, y * y, x * y]), kernel, groups=c)
        mu_x, mu_y, xx, yy, xy = stats.split(b)  # each (B, C, H-10, W-10)
        var_x = (xx - mu_x**2).clamp(min=0.0)
        var_y = (yy - mu_y**2).clamp(min=0.0)
        cov = xy - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        )
        values.append(ssim_map.flatten(1).mean(dim=1))
    return torch.cat(values).numpy()


def ssim(
    outputs, targets, *, batch_size: int = DEFAULT_BATCH, crop: int = 0, y_channel: bool = False
) -> float:
    """Mean SSIM (Wang et al. 2004) over image pairs, uint8 (N, C, H, W) or float in [-1, 1];
    ``crop`` and ``y_channel`` as in :func:`ssim_per_image`."""
    per_image = ssim_per_image(
        outputs, targets, batch_size=batch_size, crop=crop, y_channel=y_channel
    )
    return float(per_image.mean())


@register_metric(
    "ssim",
    needs={PAIRS},
    higher_is_better=True,
    description="structural similarity of paired images, Gaussian window 11, sigma 1.5, "
    "K1 0.01, K2 0.03, per-channel mean (Wang et al., IEEE TIP 2004)",
    keys=("ssim",),
    function=ssim,
)
def _score(inputs: MetricInputs) -> dict[str, float]:
    batch = inputs.batch_size or DEFAULT_BATCH
    value = ssim(
        inputs.outputs, inputs.targets, batch_size=batch, crop=inputs.crop,
        y_channel=inputs.y_channel,
    )  # fmt: skip
    return {"ssim": value}
