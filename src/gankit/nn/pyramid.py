"""Gaussian and Laplacian pyramids of images (Burt & Adelson 1983), as LAPGAN uses them:
Denton, Chintala, Szlam & Fergus 2015, "Deep Generative Image Models using a Laplacian
Pyramid of Adversarial Networks", Sec. 3.

* d(.), downsampling, "blurs and decimates" a j x j image to j/2 x j/2: here a 2x2 box
  filter (average pooling with stride 2). It keeps images in [-1, 1], needs no padding
  convention and maps a 28 px side exactly to 14 and 7.
* u(.), upsampling, "smooths and expands" to twice the size: bilinear interpolation
  (half-pixel centres, edges replicated).
* The Gaussian pyramid I_0 = I, I_{k+1} = d(I_k); the Laplacian pyramid holds the band-pass
  residuals h_k = I_k - u(I_{k+1}) for k < K and the low-pass image I_K at the top (Eq. 1).
* Reconstruction runs back down, I_k = u(I_{k+1}) + h_k (Eq. 2), and gives I_0 back exactly
  (up to float rounding): whatever u is, h_k stores what u misses.

Lists are finest first: index k is the paper's level k (0 = full size, K = coarsest). All
three operators are linear, which is what makes the residuals of a sum the sum of residuals.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError

MIN_COARSE = 7  # halving stops before a side below this: 28 -> 14 -> 7, 32 -> 16 -> 8


def downsample(x: Tensor) -> Tensor:
    """d(I): (N, C, H, W) -> (N, C, H/2, W/2), each pixel the mean of a 2x2 block."""
    return F.avg_pool2d(x, 2)


def upsample(x: Tensor) -> Tensor:
    """u(I): (N, C, H, W) -> (N, C, 2H, 2W) by bilinear interpolation."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def pyramid_sizes(side: int, levels: int = 0) -> list[int]:
    """Sides of the pyramid's levels, finest first. ``levels`` 0: halve while the side is even
    and its half at least MIN_COARSE (28 -> [28, 14, 7], 32 -> [32, 16, 8], 64 -> [64, 32,
    16, 8]); otherwise exactly that many levels, each side even down to the coarsest."""
    sizes = [side]
    if levels == 0:
        while sizes[-1] % 2 == 0 and sizes[-1] // 2 >= MIN_COARSE:
            sizes.append(sizes[-1] // 2)
    else:
        while len(sizes) < levels and sizes[-1] % 2 == 0 and sizes[-1] > 1:
            sizes.append(sizes[-1] // 2)
        if len(sizes) < levels:
            raise ConfigError(
                f"options.levels={levels} needs an image side divisible by 2^{levels - 1}; "
                f"{side} px halves only to {sizes}. Lower options.levels or set data.image_size."
            )
    if len(sizes) < 2:
        raise ConfigError(
            f"a Laplacian pyramid needs at least 2 levels; a {side} px side does not halve to a "
            f"side of {MIN_COARSE} or more. Set data.image_size (e.g. 28, 32 or 64)."
        )
    return sizes


def gaussian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """[I_0, ..., I_{levels-1}]: ``x`` and its repeated downsamplings."""
    out = [x]
    for _ in range(levels - 1):
        out.append(downsample(out[-1]))
    return out


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """[h_0, ..., h_{K-1}, I_K], K = levels - 1: h_k = I_k - u(I_{k+1}) (Eq. 1)."""
    g = gaussian_pyramid(x, levels)
    return [g[k] - upsample(g[k + 1]) for k in range(levels - 1)] + [g[-1]]


def reconstruct(pyramid: list[Tensor]) -> Tensor:
    """I_0 from [h_0, ..., h_{K-1}, I_K]: I_k = u(I_{k+1}) + h_k from the top down (Eq. 2)."""
    image = pyramid[-1]
    for h in reversed(pyramid[:-1]):
        image = upsample(image) + h
    return image
