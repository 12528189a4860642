"""Pixel scaling and whole-tensor image adjustments shared by every image dataset.

All image datasets store float32 tensors of shape (N, C, H, W) in [-1, 1], the range a ``tanh``
generator output has (Radford et al., 2016, "Unsupervised Representation Learning with Deep
Convolutional GANs", section 3). :func:`to_unit_range` is the only place uint8 pixels are
scaled, so every loader agrees on the mapping and :func:`from_unit_range` inverts it exactly.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# ITU-R BT.601 luma weights, the ones Pillow uses for RGB -> "L"; they sum to 1, so the
# [-1, 1] range is preserved when applied directly to scaled pixels.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

# Resizing works on this many images at a time so the peak memory stays near the output size.
_RESIZE_CHUNK = 4096


def to_unit_range(images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 pixels 0..255 -> float32 in [-1, 1] (0 -> -1, 255 -> 1), any shape."""
    if isinstance(images_uint8, np.ndarray):
        if images_uint8.dtype != np.uint8:
            raise TypeError(f"to_unit_range expects uint8 pixels, got {images_uint8.dtype}")
        # astype copies, so read-only buffers (np.frombuffer) never reach torch.from_numpy.
        x = torch.from_numpy(images_uint8.astype(np.float32))
    else:
        if images_uint8.dtype != torch.uint8:
            raise TypeError(f"to_unit_range expects uint8 pixels, got {images_uint8.dtype}")
        x = images_uint8.to(torch.float32)
    return x.div_(127.5).sub_(1.0)


def from_unit_range(x: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] (values outside are clamped) -> uint8 0..255, rounding to nearest."""
    scaled = (x.detach().to(torch.float32).clamp(-1.0, 1.0) + 1.0) * 127.5
    return scaled.round_().to(torch.uint8)


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, C, H, W) with C in {1, 3} -> ``channels`` channels: grey is repeated, colour -> luma."""
    have = x.shape[1]
    if have == channels:
        return x
    if have == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    if have == 3 and channels == 1:
        weights = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * weights).sum(dim=1, keepdim=True)
    raise ValueError(f"cannot convert {have} channels to {channels}")


def resize_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size) by antialiased bilinear interpolation."""
    n, c, h, w = x.shape
    if (h, w) == (size, size):
        return x
    out = torch.empty((n, c, size, size), dtype=x.dtype)
    for start in range(0, n, _RESIZE_CHUNK):
        chunk = x[start : start + _RESIZE_CHUNK]
        out[start : start + _RESIZE_CHUNK] = F.interpolate(
            chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    # Antialiased bilinear weights are convex, but float rounding can step past +-1.
    return out.clamp_(-1.0, 1.0)


def adjust_images(x: torch.Tensor, image_size: int | None, channels: int | None) -> torch.Tensor:
    """Apply the requested channel count and square size; ``None`` keeps the native value."""
    # Resize the smaller of the two representations: drop channels first, add them last.
    if channels is not None and channels < x.shape[1]:
        x = to_channels(x, channels)
    if image_size is not None:
        x = resize_square(x, image_size)
    if channels is not None:
        x = to_channels(x, channels)
    return x
