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
