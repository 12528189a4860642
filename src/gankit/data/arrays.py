"""A dataset from a NumPy ``.npy`` or ``.npz`` file (format: NumPy Enhancement Proposal 1,
https://numpy.org/neps/nep-0001-npy-format.html).

* uint8 arrays are images: (N, H, W), (N, C, H, W) or (N, H, W, C) with C in {1, 3}; when both
  axis 1 and the last axis could be channels, axis 1 wins (NCHW, PyTorch's layout).
* float arrays of shape (N, D) are vectors, used as-is (as float32); float arrays with 3 or 4
  dims are images that must already be scaled to [-1, 1].
* npz: images under key ``x`` or ``images`` (or the only non-label array), integer labels
  under ``y`` or ``labels`` if present.

Files are always loaded with ``allow_pickle=False``: a pickle inside an untrusted file could
run arbitrary code.
"""

from __future__ import annotations

import math
import os
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.images import to_unit_range
from gankit.errors import ConfigError, DataError

IMAGE_KEYS = ("x", "images")
LABEL_KEYS = ("y", "labels")
# Float images may overshoot [-1, 1] by rounding noise only; they are clamped afterwards.
RANGE_TOLERANCE = 1e-5
# What damaged or crafted files raise inside numpy and zipfile: bad headers (SyntaxError and
# TokenError from numpy's header parser), bad deflate data, unknown zip compression methods.
_READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    SyntaxError,
    tokenize.TokenError,
    RecursionError,
)
_NPY_MAGIC = b"\x93NUMPY"
# Deflate shrinks data at most about 1032:1, so a zip member claiming to unpack to more than
# this many times its compressed size has a forged size (or is a zip bomb).
_MAX_DEFLATE_RATIO = 1100


def _read_error(path: Path, exc: Exception, key: str | None = None) -> DataError:
    where = f"{path}" if key is None else f"array {key!r} in {path}"
    text = str(exc)
    if "Object arrays" in text:
        return DataError(
            f"{where} holds Python objects (object dtype), which gankit refuses to unpickle; "
            "save a plain numeric array instead"
        )
    if "pickled" in text:  # numpy: "This file contains pickled (object) data ..."
        return DataError(
            f"{path} is not a .npy/.npz file (pickle or unknown format); save it with np.save"
        )
    return DataError(f"cannot read {where} ({exc}); the file is truncated or not a NumPy file")


def read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(data array, label array or None) from a .npy or .npz file."""
    if path.suffix.lower() not in (".npy", ".npz"):
        raise DataError(f"dataset 'array' needs a .npy or .npz file, got {path}")
    try:
        # We own the file handle: np.load leaks its own when a damaged zip fails to open.
        with open(path, "rb") as handle:
            if handle.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                handle.seek(0)
                _check_declared_size(handle, os.fstat(handle.fileno()).st_size, str(path))
            handle.seek(0)
            # np.load picks npy or npz from the magic bytes, whatever the suffix says.
            loaded = np.load(handle, allow_pickle=False)
            if isinstance(loaded, np.ndarray):
                return loaded, None
            with loaded as archive:
                keys = list(archive.files)
                data_key = _pick_data_key(path, keys)
                label_key = next((k for k in LABEL_KEYS if k in keys), None)
                data = _member(archive, path, data_key)
                labels = None if label_key is None else _member(archive, path, label_key)
                return data, labels
    except _READ_ERRORS as exc:
        raise _read_error(path, exc) from None
    except MemoryError:
        raise DataError(f"{path} is too large to load into memory; use a smaller file") from None


def _check_declared_size(stream, available: int, where: str) -> None:
    """Refuse a .npy header that declares more data than the ``available`` bytes can hold.

    np.load allocates the declared shape before it reads anything, so without this a crafted
    100-byte file could ask for terabytes.
    """
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:  # 3.0 only adds UTF-8 field names of structured arrays, which gankit never reads
        raise DataError(f"{where} uses .npy format {version}; save the array with np.save")
    if dtype.hasobject:
        return  # np.load(allow_pickle=False) refuses these with its own clear message
    need = math.prod(shape) * dtype.itemsize
    have = available - stream.tell()
    if need > have:
        raise DataError(
            f"{where} declares shape {shape} of {dtype} ({need} bytes) but holds only {have}; "
            "the file is truncated or damaged"
        )


def _member(archive, path: Path, key: str) -> np.ndarray:
    where = f"array {key!r} in {path}"
    try:
        # the member numpy will read for `key` (its exact name first, as NpzFile does)
        name = key if key in archive.zip.namelist() else key + ".npy"
        info = archive.zip.getinfo(name)
        packed = min(info.compress_size, path.stat().st_size)
        available = min(info.file_size, _MAX_DEFLATE_RATIO * packed + 1024)
        with archive.zip.open(info) as member:
            if member.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                # numpy would hand back the member's raw bytes, however large they unpack
                raise DataError(f"{where} is not a .npy array; write the file with np.savez")
        with archive.zip.open(info) as member:
            _check_declared_size(member, available, where)
        return archive[key]
    except _READ_ERRORS as exc:
        raise _read_error(path, exc, key) from None


def _pick_data_key(path: Path, keys: list[str]) -> str:
    for key in IMAGE_KEYS:
        if key in keys:
            return key
    others = [k for k in keys if k not in LABEL_KEYS]
    if len(others) == 1:
        return others[0]
    raise DataError(
        f"{path} holds arrays {keys or 'none'}; store the data under key 'x' or 'images' "
        "(labels under 'y' or 'labels')"
    )


def _as_nchw(path: Path, data: np.ndarray) -> np.ndarray:
    if data.ndim == 3:
        return data[:, None]
    if data.shape[1] in (1, 3):
        return data
    if data.shape[3] in (1, 3):
        return data.transpose(0, 3, 1, 2)
    raise DataError(
        f"{path} has image shape {data.shape}; 4-D images need 1 or 3 channels, laid out "
        "as (N, C, H, W) or (N, H, W, C)"
    )


def to_tensor(path: Path, data: np.ndarray) -> tuple[torch.Tensor, str]:
    """Validate the data array and convert it to (float32 tensor, kind)."""
    if data.size == 0:
        raise DataError(f"{path} holds an empty array of shape {data.shape}")
    if data.dtype == np.uint8:
        if data.ndim not in (3, 4):
            raise DataError(
                f"{path} holds uint8 data of shape {data.shape}; uint8 arrays must be images "
                "(N, H, W), (N, C, H, W) or (N, H, W, C); save vectors as float32"
            )
        return to_unit_range(np.ascontiguousarray(_as_nchw(path, data))), "image"
    if data.dtype.kind != "f":
        raise DataError(
            f"{path} holds {data.dtype} data; use uint8 images (0..255) or float vectors/images "
            "(convert with .astype(np.float32))"
        )
    if data.ndim not in (2, 3, 4):
        raise DataError(
            f"{path} holds float data of shape {data.shape}; expected vectors (N, D) or images "
            "(N, H, W), (N, C, H, W), (N, H, W, C)"
        )
    if not np.isfinite(data).all():
        raise DataError(f"{path} contains NaN or infinite values; clean the data first")
    if data.ndim == 2:
        return torch.from_numpy(data.astype(np.float32)), "vector"
    low, high = float(data.min()), float(data.max())
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise DataError(
            f"{path} holds float images in [{low:g}, {high:g}]; float images must be scaled to "
            "[-1, 1] (x / 127.5 - 1 for 0..255 pixels), or save them as uint8 0..255"
        )
    images = np.ascontiguousarray(_as_nchw(path, data), dtype=np.float32)
    return torch.from_numpy(images).clamp_(-1.0, 1.0), "image"


def labels_to_tensor(path: Path, labels: np.ndarray, n: int) -> torch.Tensor:
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise DataError(
            f"{path} has labels of dtype {labels.dtype} and shape {labels.shape}; labels must "
            "be a 1-D integer array (.astype(np.int64))"
        )
    if len(labels) != n:
        raise DataError(
            f"{path} has {len(labels)} labels for {n} items; they must match one to one"
        )
    if labels.min() < 0:
        raise DataError(f"{path} has negative labels; classes must be numbered 0..K-1")
    return torch.from_numpy(labels.astype(np.int64))


@DATASETS.register("array")
def load_array(opts: LoadOptions) -> Dataset:
    if opts.split not in ("train", "all"):
        raise ConfigError(
            f"dataset 'array' has no {opts.split!r} split (use 'train' or 'all', both meaning "
            "the whole file); to evaluate on held-out data, point data.root at its own file"
        )
    path = opts.root
    if path is None:
        raise DataError("dataset 'array' needs data.root=FILE, a .npy or .npz file")
    if not path.is_file():
        raise DataError(f"array file {path} does not exist; check data.root")
    data, labels = read_arrays(path)
    x, kind = to_tensor(path, data)
    y = None if labels is None else labels_to_tensor(path, labels, len(x))
    return Dataset(x=x, y=y, kind=kind, name="array", info={"source": str(path)})
