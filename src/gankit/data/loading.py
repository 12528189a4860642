"""``load_dataset``: argument checks, the loader lookup and the shared image adjustments."""

from __future__ import annotations

import os
from pathlib import Path

# Imported for their side effect: each module registers its loaders in DATASETS.
from gankit.data import (  # noqa: F401
    arrays,
    captions,
    digits,
    folder,
    medmnist,
    mnist,
    paired,
    segmentation,
    toys,
    translation,
)
from gankit.data.dataset import DATASETS, SPLITS, Dataset, LoadOptions
from gankit.data.images import adjust_images
from gankit.errors import ConfigError


def _check_options(
    split: str, image_size: int | None, channels: int | None, n_samples: int
) -> None:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1
    ):
        raise ConfigError(f"data.image_size must be a positive integer, got {image_size!r}")
    if channels not in (None, 1, 3):
        raise ConfigError(f"data.channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ConfigError(f"data.n_samples must be a positive integer, got {n_samples!r}")


def load_dataset(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    split: str = "train",
    image_size: int | None = None,
    channels: int | None = None,
    n_samples: int = 20000,
    seed: int = 0,
    download: bool = False,
) -> Dataset:
    """Load a registered dataset fully into memory.

    ``split`` is "train", "test" or "all" (not every dataset has each). For image datasets,
    ``image_size`` resizes to a square and ``channels`` (1 or 3) converts grey <-> colour;
    ``None`` keeps the native value. Vector datasets ignore both. ``n_samples`` and ``seed``
    only matter for the toy distributions; ``download`` only for Fashion-MNIST.
    Raises ConfigError for bad arguments and DataError for missing or damaged data.
    """
    _check_options(split, image_size, channels, n_samples)
    loader = DATASETS.get(name)
    opts = LoadOptions(
        name=name,
        root=None if root is None else Path(root).expanduser(),
        split=split,
        image_size=image_size,
        channels=channels,
        n_samples=n_samples,
        seed=seed,
        download=download,
    )
    dataset = loader(opts)
    # A dataset with more fields (a paired target, a second domain) is sized by its loader:
    # only it knows how x and the fields relate (a super-resolution input is a quarter of its
    # target), so resizing x alone here would break the pairs.
    if dataset.kind == "image" and not (dataset.fields or dataset.unpaired):
        dataset.x = adjust_images(dataset.x, image_size, channels)
    return dataset
