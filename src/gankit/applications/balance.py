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
        parts = [
            G.sample(min(BATCH, need - s), seed=seed * 1_000_003 + c * 10_007 + s, label=c)
            for s in range(0, need, BATCH)
        ]
        if parts:
            _save(from_unit_range(torch.cat(parts)).numpy(), folder, "synthetic")
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
