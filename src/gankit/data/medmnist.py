"""MedMNIST ``.npz`` files as a labelled dataset (``data.name=medmnist``, ``data.root=FILE.npz``).

Yang et al., "MedMNIST v2: A large-scale lightweight benchmark for 2D and 3D biomedical image
classification", Scientific Data 2023. The ``medmnist`` package saves each 2-D set (e.g.
``pathmnist.npz``) with ``np.savez`` under six keys:

* ``train_images``, ``val_images``, ``test_images``: uint8, (N, H, W) grey or (N, H, W, 3) RGB;
* ``train_labels``, ``val_labels``, ``test_labels``: integers, (N, 1) (one task) or (N,).

gankit's splits map onto them as: ``train`` -> train, ``test`` -> test, ``all`` -> train + val
+ test. The validation split is not a gankit split (load it with the ``array`` dataset if
needed). Multi-label sets (ChestMNIST: labels (N, 14)) are refused: gankit's classes are one
integer per image.

Reading goes through :mod:`gankit.data.arrays` (``allow_pickle=False``, declared sizes checked
before numpy allocates), so an object array or a crafted header is one clear line, never code
run from the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from gankit.data.arrays import _READ_ERRORS, _member, _read_error
from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.images import to_unit_range
from gankit.errors import DataError

PARTS = ("train", "val", "test")
KEYS = tuple(f"{part}_{what}" for part in PARTS for what in ("images", "labels"))
SPLIT_PARTS = {"train": ("train",), "test": ("test",), "all": PARTS}


def _open_keys(path: Path, wanted: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``wanted`` from the npz at ``path``; missing keys named in one line."""
    try:
        with open(path, "rb") as handle:
            if not zipfile.is_zipfile(handle):
                raise DataError(
                    f"{path} is not an .npz archive; MedMNIST files are written by np.savez"
                )
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as archive:
                keys = set(archive.files)
                missing = [k for k in KEYS if k not in keys]
                if missing:
                    raise DataError(
                        f"{path} lacks MedMNIST keys {', '.join(missing)}; a MedMNIST .npz holds "
                        f"{', '.join(KEYS)}"
                    )
                return {k: _member(archive, path, k) for k in wanted}
    except _READ_ERRORS as exc:
        raise _read_error(path, exc) from None
    except MemoryError:
        raise DataError(f"{path} is too large to load into memory; use a smaller file") from None


def _images(path: Path, key: str, images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, 3) -> float32 (N, C, H, W) in [-1, 1]."""
    shape = images.shape
    colour = images.ndim == 4 and shape[3] == 3
    if images.dtype != np.uint8 or not (images.ndim == 3 or colour) or 0 in shape:
        raise DataError(
            f"{key} in {path} is {images.dtype} of shape {shape}; MedMNIST images are uint8 "
            "(N, H, W) or (N, H, W, 3)"
        )
    nchw = images.transpose(0, 3, 1, 2) if colour else images[:, None]
    return to_unit_range(np.ascontiguousarray(nchw))


def _labels(path: Path, key: str, labels: np.ndarray, n: int) -> torch.Tensor:
    """Integer (N, 1) or (N,) -> int64 (N,), checked against the image count ``n``."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise DataError(
            f"{key} in {path} is {labels.dtype} of shape {labels.shape}; gankit needs one "
            "integer class per image, (N, 1) or (N,) (multi-label sets are not supported)"
        )
    if len(labels) != n:
        raise DataError(f"{key} in {path} has {len(labels)} labels for {n} images; they must match")
    if len(labels) and labels.min() < 0:
        raise DataError(f"{key} in {path} has negative labels; classes are numbered 0..K-1")
    return torch.from_numpy(labels.astype(np.int64))


def read_medmnist(path: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(images (N, C, H, W) in [-1, 1], labels (N,), number of classes) of ``split`` (train,
    test or all). The class count comes from every split's labels, so that a test split
    lacking the last class still has the training split's classes."""
    parts = SPLIT_PARTS[split]
    wanted = (*(f"{p}_images" for p in parts), *(f"{p}_labels" for p in PARTS))
    arrays = _open_keys(path, wanted)
    xs, ys = [], []
    for part in parts:
        x = _images(path, f"{part}_images", arrays[f"{part}_images"])
        xs.append(x)
        ys.append(_labels(path, f"{part}_labels", arrays[f"{part}_labels"], len(x)))
    if len({tuple(x.shape[1:]) for x in xs}) > 1:
        sizes = ", ".join(f"{p} {tuple(x.shape[1:])}" for p, x in zip(parts, xs))
        raise DataError(f"{path} has splits of different image shapes ({sizes}); re-export it")
    tops = [int(a.max()) for k, a in arrays.items() if k.endswith("_labels") and a.size]
    return torch.cat(xs), torch.cat(ys), max(tops, default=-1) + 1


@DATASETS.register("medmnist")
def load_medmnist(opts: LoadOptions) -> Dataset:
    path = opts.root
    if path is None:
        raise DataError("dataset 'medmnist' needs data.root=FILE.npz (e.g. pathmnist.npz)")
    if not path.is_file():
        raise DataError(f"MedMNIST file {path} does not exist; check data.root")
    x, y, k = read_medmnist(path, opts.split)
    return Dataset(
        x=x,
        y=y,
        kind="image",
        name="medmnist",
        class_names=[str(i) for i in range(k)],
        info={"source": str(path), "split": opts.split},
    )
