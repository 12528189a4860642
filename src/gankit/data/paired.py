"""Image pairs and unpaired domains: shared helpers of the translation datasets.

A paired dataset holds the input as ``x`` (also named ``a``) and the aligned target as field
``b``; an unpaired one holds domain A as ``x`` / ``a`` and domain B as the unpaired field
``b``. ``load_dataset`` leaves datasets with such fields to their loader for
``data.image_size`` and ``data.channels``, because only the loader knows how input and target
relate (a super-resolution input is a quarter of its target): the helpers below apply one
rule to both sides.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.data.images import adjust_images, to_channels
from gankit.errors import ConfigError

SR_SCALE = 4  # the x4 of SRGAN (Ledig et al. 2017, Sec. 3)


def reduce_bicubic(pixels: np.ndarray, scale: int = SR_SCALE) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C) -> (N, H/scale, W/scale[, C]) by Pillow's BICUBIC
    resize (``Image.resize(size, Image.Resampling.BICUBIC)``, which antialiases by widening
    the kernel when shrinking), image by image; H and W must be multiples of ``scale``."""
    from PIL import Image

    n, h, w = pixels.shape[:3]
    if h % scale or w % scale:
        raise ValueError(f"{h}x{w} is not a multiple of {scale}")
    out = np.empty((n, h // scale, w // scale, *pixels.shape[3:]), dtype=np.uint8)
    for i in range(n):
        image = Image.fromarray(pixels[i])
        out[i] = np.asarray(image.resize((w // scale, h // scale), Image.Resampling.BICUBIC))
    return out


def nhwc_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1]."""
    from gankit.data.images import to_unit_range

    if pixels.ndim == 3:
        return to_unit_range(pixels).unsqueeze(1)
    return to_unit_range(pixels).permute(0, 3, 1, 2).contiguous()


def same_adjust(
    images: dict[str, torch.Tensor], image_size: int | None, channels: int | None
) -> dict[str, torch.Tensor]:
    """``data.image_size`` and ``data.channels`` applied alike to every image of a pair or of
    both domains (antialiased bilinear resize and grey <-> colour, as for single datasets)."""
    return {k: adjust_images(v, image_size, channels) for k, v in images.items()}


def only_channels(images: dict[str, torch.Tensor], channels: int | None) -> dict[str, torch.Tensor]:
    """``data.channels`` applied to every image; for sets whose sizes are fixed by the task."""
    if channels is None:
        return images
    return {k: to_channels(v, channels) for k, v in images.items()}


def refuse_resize(name: str, image_size: int | None, native: int, why: str) -> None:
    """ConfigError unless ``image_size`` is None or the dataset's own side ``native``."""
    if image_size not in (None, native):
        raise ConfigError(
            f"dataset {name!r} is {native}x{native} and cannot take data.image_size="
            f"{image_size} ({why}); leave data.image_size unset"
        )
