"""A balanced training folder from a labelled dataset plus a class-conditional run.

Lecture 003 names class imbalance among the reasons for synthetic data; Frid-Adar et al.,
"GAN-based Synthetic Medical Image Augmentation for increased CNN Performance in Liver Lesion
Classification", Neurocomputing 2018, top up the rare classes with G(z | y) samples. Here
every class of the dataset's split gets all its real images, then samples of the run's
generator for that class until it has ``per_class`` images (default: as many as the largest
class). Nothing is taken away: a class already at ``per_class`` gets no samples.

Layout (readable by gankit's ``folder`` dataset and any ImageFolder-style tool): one
subfolder per class, ``<index>_<name>`` with a zero-padded index so that sorting the names
keeps the dataset's class order; real images are ``real_<i>.png``, generated ones
``synthetic_<i>.png``, so that they can always be told apart. A ``balance.json`` beside them
records the source run, dataset, split, seed and the counts.

The in-memory pieces are public for benchmarks and scripts (benchmarks/imbalance_fashion.py):
:func:`top_up` (the synthetic images ``balance`` writes, same seeds), :func:`imbalanced_draw`
(keep a fraction of some classes: an imbalanced copy of a balanced set) and
:func:`save_medmnist` (such a copy as a MedMNIST-layout ``.npz`` that every gankit command
reads with ``data.name=medmnist``, so a cgan can be trained on exactly that data).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.data import load_dataset
from gankit.data.images import from_unit_range
from gankit.errors import ConfigError, DataError, RunError
from gankit.runs import atomic_write_bytes, load_generator

BATCH = 500  # samples generated per call


def folder_name(index: int, name: str, width: int) -> str:
    """``"03_dress"``: a filesystem-safe class folder name that sorts in class order."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "class"
    return f"{index:0{width}d}_{safe}"


def _save(images: np.ndarray, folder: Path, prefix: str) -> None:
    """uint8 (N, C, H, W) -> folder/prefix_00000.png, ..."""
    for i, img in enumerate(images):
        pic = Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0))
        pic.save(folder / f"{prefix}_{i:05d}.png")


def class_top_up(G, c: int, need: int, seed: int = 0) -> torch.Tensor:
    """``need`` samples G(z | c), (need, C, H, W) in [-1, 1], drawn in batches of BATCH with
    seeds ``seed * 1_000_003 + c * 10_007 + offset``: the images ``balance`` writes as PNGs."""
    parts = [
        G.sample(min(BATCH, need - s), seed=seed * 1_000_003 + c * 10_007 + s, label=c)
        for s in range(0, need, BATCH)
    ]
    return torch.cat(parts).cpu()


def top_up(G, y: torch.Tensor, num_classes: int, target: int, seed: int = 0):
    """Samples of conditional generator ``G`` for every class with fewer than ``target``
    labels in ``y``, enough to bring it to ``target`` (class_top_up's seeds, as ``balance``):
    (images (M, C, H, W) in [-1, 1] or None when no class is short, labels (M,))."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=num_classes)
    xs, ys = [], []
    for c in range(num_classes):
        need = max(0, target - int(counts[c]))
        if need:
            xs.append(class_top_up(G, c, need, seed))
            ys.append(torch.full((need,), c, dtype=torch.int64))
    if not xs:
        return None, torch.zeros(0, dtype=torch.int64)
    return torch.cat(xs), torch.cat(ys)


def imbalanced_draw(y: torch.Tensor, keep: dict[int, float], seed: int) -> torch.Tensor:
    """Sorted indices into ``y`` that keep every item of the classes not in ``keep`` and, of
    each class c in ``keep``, a random ``round(keep[c] * count)`` of its items (at least 1),
    drawn with ``seed``: a class-imbalanced subset of a labelled set."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(y)
    picks = [torch.nonzero(~torch.isin(y, torch.tensor(list(keep), dtype=y.dtype))).flatten()]
    for c, fraction in sorted(keep.items()):
        if not 0 < fraction <= 1:
            raise ConfigError(f"the fraction kept of class {c} must be in (0, 1], got {fraction}")
        idx = torch.nonzero(y == c).flatten()
        if len(idx) == 0:
            raise DataError(f"class {c} has no items to keep a fraction of")
        n = max(1, round(fraction * len(idx)))
        picks.append(idx[torch.randperm(len(idx), generator=gen)[:n]])
    return torch.cat(picks).sort().values


def save_medmnist(path: str | os.PathLike, train, test) -> Path:
    """Write labelled image sets ``train`` and ``test`` (each (images (N, C, H, W) in [-1, 1],
    labels (N,))) as a MedMNIST-layout ``.npz`` (gankit.data.medmnist): uint8 (N, H, W) or
    (N, H, W, 3) images, (N, 1) labels, and an empty validation split. Train on it with
    ``--set data.name=medmnist --set data.root=PATH``; the classes are 0..K-1."""
    path = Path(path)
    arrays = {}
    for part, (x, y) in {"train": train, "val": (None, None), "test": test}.items():
        if x is None:  # MedMNIST's val split: not a gankit split, written empty
            c, h, w = train[0].shape[1:]
            shape = (0, h, w) if c == 1 else (0, h, w, 3)
            arrays["val_images"] = np.zeros(shape, np.uint8)
            arrays["val_labels"] = np.zeros((0, 1), np.int64)
            continue
        img = from_unit_range(torch.as_tensor(x)).numpy()  # uint8 (N, C, H, W)
        arrays[f"{part}_images"] = img[:, 0] if img.shape[1] == 1 else img.transpose(0, 2, 3, 1)
        arrays[f"{part}_labels"] = np.asarray(y, dtype=np.int64).reshape(-1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path


def balance(
    run: str | os.PathLike,
    data: str,
    out: str | os.PathLike,
    *,
    per_class: int | None = None,
    data_root: str | None = None,
    split: str = "train",
    seed: int = 0,
) -> dict:
    """Write the balanced folder ``out`` (which must not exist or be empty); returns the
    summary also written to ``out/balance.json``."""
    if per_class is not None and per_class < 1:
        raise ConfigError(f"--per-class must be >= 1, got {per_class}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"{out} exists and is not an empty folder; choose a new --out")
    G = load_generator(run)
    shape = tuple(G.sample(1, seed=0).shape[1:])
    if G.kind != "image" or len(shape) != 3 or shape[0] not in (1, 3):
        raise DataError(f"{run} does not make images; balancing needs an image run")
    # the dataset at the run's image size and channels (a digits run makes 16x16, say)
    ds = load_dataset(data, root=data_root, split=split, image_size=shape[-1], channels=shape[0])
    if ds.y is None or ds.kind != "image":
        raise DataError(f"dataset {data!r} has no class labels; balancing needs labelled images")
    k = ds.num_classes or 0
    if G.num_classes != k:
        raise DataError(
            f"{run} makes {G.num_classes or 'no'} classes, {data} has {k}: use a "
            "class-conditional run trained on this dataset"
        )
    counts = np.bincount(ds.y.numpy(), minlength=k)
    target = int(counts.max()) if per_class is None else per_class
    if shape != ds.shape:  # a non-square run
        raise DataError(f"{run} makes images of shape {shape}, {data} holds {ds.shape}")
    names = ds.class_names or [str(i) for i in range(k)]
    width = len(str(k - 1))
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for c in range(k):
        folder = out / folder_name(c, names[c], width)
        folder.mkdir()
        real = from_unit_range(ds.x[ds.y == c]).numpy()
        _save(real, folder, "real")
        need = max(0, target - len(real))
        if need:
            _save(from_unit_range(class_top_up(G, c, need, seed)).numpy(), folder, "synthetic")
        made.append(
            {"class": names[c], "folder": folder.name, "real": len(real), "synthetic": need}
        )
    summary = {
        "run": str(run),
        "data": data,
        "split": split,
        "per_class": target,
        "seed": seed,
        "classes": made,
    }
    atomic_write_bytes(out / "balance.json", json.dumps(summary, indent=1).encode())
    return summary
