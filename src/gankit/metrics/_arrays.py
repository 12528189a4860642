"""Input checking shared by the metric functions: anything array-like in, checked arrays out."""

from __future__ import annotations

import numpy as np
import torch

from gankit.errors import DataError


def as_numpy64(x, name: str = "features") -> np.ndarray:
    """A float64 numpy copy-or-view of a tensor, array or nested list; non-finite values raise."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric array-like, got {type(x).__name__}") from exc
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name} contains NaN or infinite values")
    return arr


def as_matrix64(x, name: str = "features", min_rows: int = 1) -> np.ndarray:
    """As :func:`as_numpy64`, and the result must be a (N, D) matrix with N >= ``min_rows``."""
    arr = as_numpy64(x, name)
    if arr.ndim != 2:
        raise DataError(f"{name} must have shape (N, D), got shape {tuple(arr.shape)}")
    if arr.shape[0] < min_rows or arr.shape[1] < 1:
        raise DataError(
            f"{name} needs at least {min_rows} row(s) and 1 column, got shape {tuple(arr.shape)}"
        )
    return arr


def as_tensor(x, dtype: torch.dtype, name: str = "features", min_rows: int = 1) -> torch.Tensor:
    """A (N, D) CPU tensor of ``dtype``; checked like :func:`as_matrix64`."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        if t.ndim != 2:
            raise DataError(f"{name} must have shape (N, D), got shape {tuple(t.shape)}")
        if t.shape[0] < min_rows or t.shape[1] < 1:
            raise DataError(
                f"{name} needs at least {min_rows} row(s) and 1 column, got shape {tuple(t.shape)}"
            )
        if not bool(torch.isfinite(t).all()):
            raise DataError(f"{name} contains NaN or infinite values")
        return t.to(dtype).contiguous()
    return torch.from_numpy(as_matrix64(x, name, min_rows)).to(dtype).contiguous()


def same_dim(a, b, names: tuple[str, str]) -> None:
    """Both (N, D) inputs must share D."""
    if a.shape[1] != b.shape[1]:
        raise DataError(
            f"{names[0]} and {names[1]} must have the same feature dimension, "
            f"got {a.shape[1]} and {b.shape[1]}"
        )


# --- paired images and masks (PSNR, SSIM, Dice) -------------------------------------------------
#: Float images may stray this far outside [-1, 1] (round-off of a resize or a tanh) unflagged.
RANGE_TOL = 1e-3


def _as_torch(x, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    try:
        arr = np.asarray(x)
        return torch.from_numpy(np.ascontiguousarray(arr))
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be an array or tensor, got {type(x).__name__}") from exc


def image_pair(outputs, targets) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked, not yet converted, (N, C, H, W) uint8 or float tensors of equal shape."""
    o, t = _as_torch(outputs, "outputs"), _as_torch(targets, "targets")
    for name, x in (("outputs", o), ("targets", t)):
        if x.dtype != torch.uint8 and not x.is_floating_point():
            raise DataError(
                f"{name} of dtype {x.dtype}: give uint8 images on 0..255 or float images in [-1, 1]"
            )
        if x.ndim != 4 or x.shape[0] < 1:
            raise DataError(
                f"{name} must be images of shape (N, C, H, W), got shape {tuple(x.shape)}"
                + ("; add a channel axis, x[:, None]" if x.ndim == 3 else "")
            )
    if o.shape != t.shape:
        raise DataError(
            f"outputs and targets must have the same shape (N, C, H, W), got "
            f"{tuple(o.shape)} and {tuple(t.shape)}"
        )
    return o, t


def to_signed_unit(x: torch.Tensor, name: str) -> torch.Tensor:
    """uint8 on 0..255 -> float64 on [-1, 1] (x / 127.5 - 1); float input is checked to lie in
    [-1, 1] (within RANGE_TOL) and returned as float64."""
    if x.dtype == torch.uint8:
        return x.to(torch.float64) / 127.5 - 1.0
    y = x.to(torch.float64)
    if not bool(torch.isfinite(y).all()):
        raise DataError(f"{name} contains NaN or infinite values")
    lo, hi = float(y.min()), float(y.max())
    if lo < -1.0 - RANGE_TOL or hi > 1.0 + RANGE_TOL:
        raise DataError(
            f"{name} has values in [{lo:.4g}, {hi:.4g}]: float images must lie in [-1, 1] "
            "(clamp them, or give uint8 images on 0..255)"
        )
    return y


#: ITU-R BT.601 luma of RGB on [0, 1] into [16, 235] / 255 (MATLAB's rgb2ycbcr, the Y channel
#: on which super-resolution papers report PSNR / SSIM, e.g. Ledig et al. 2017, Sec. 4.1).
Y_WEIGHTS = (65.481, 128.553, 24.966)
Y_OFFSET = 16.0


def luma(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB on [-1, 1] -> (B, 1, H, W) BT.601 luma Y on [-1, 1] (Y / 255 on [0, 1],
    i.e. 16..235 of 255, mapped like any intensity to [-1, 1])."""
    rgb = (x + 1.0) / 2.0
    w = torch.tensor(Y_WEIGHTS, dtype=x.dtype).view(1, 3, 1, 1)
    y = (Y_OFFSET + (rgb * w).sum(dim=1, keepdim=True)) / 255.0
    return y * 2.0 - 1.0


def check_crop(crop: int, h: int, w: int) -> None:
    if isinstance(crop, bool) or not isinstance(crop, int) or crop < 0:
        raise DataError(f"crop must be a whole number of border pixels >= 0, got {crop!r}")
    if 2 * crop >= min(h, w):
        raise DataError(f"crop={crop} removes all of a {h}x{w} image; use a smaller border")


def image_pair_batches(outputs, targets, batch_size: int, *, crop: int = 0,
                       y_channel: bool = False):  # fmt: skip
    """Yield aligned float64 [-1, 1] chunks (B, C, H, W) of a checked image pair.

    ``crop`` removes that many pixels at each border first, and ``y_channel`` replaces RGB
    images by their luma (grey images are kept): the conventions of super-resolution tables
    (a border of the scale factor is cropped; e.g. Ledig et al. 2017)."""
    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1, got {batch_size}")
    o, t = image_pair(outputs, targets)
    h, w = o.shape[-2:]
    check_crop(crop, h, w)
    for s in range(0, o.shape[0], batch_size):
        pair = []
        for x, name in ((o[s : s + batch_size], "outputs"), (t[s : s + batch_size], "targets")):
            x = to_signed_unit(x, name)
            if crop:
                x = x[..., crop : h - crop, crop : w - crop]
            if y_channel and x.shape[1] == 3:
                x = luma(x)
            pair.append(x)
        yield pair[0], pair[1]


def mask_pair(outputs, targets) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, H, W) int64 label masks of equal shape from bool / integer (or integral float)
    arrays of shape (N, H, W) or (N, 1, H, W)."""
    pair = []
    for name, raw in (("outputs", outputs), ("targets", targets)):
        x = _as_torch(raw, name)
        if x.ndim == 4 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 3 or x.shape[0] < 1:
            raise DataError(
                f"{name} must be label masks of shape (N, H, W) or (N, 1, H, W), "
                f"got shape {tuple(x.shape)}"
            )
        if x.is_floating_point():
            if not bool(torch.isfinite(x).all()) or not bool((x == x.round()).all()):
                raise DataError(f"{name} must hold integer class labels, got non-integer values")
        elif x.is_complex():
            raise DataError(f"{name} must hold integer class labels, got dtype {x.dtype}")
        x = x.to(torch.int64)
        if x.numel() and int(x.min()) < 0:
            raise DataError(f"{name} has negative labels; classes are 0, 1, ..., K-1")
        pair.append(x)
    if pair[0].shape != pair[1].shape:
        raise DataError(
            f"outputs and targets must have the same mask shape, got "
            f"{tuple(pair[0].shape)} and {tuple(pair[1].shape)}"
        )
    return pair[0], pair[1]
