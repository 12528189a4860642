"""scikit-learn's 8x8 handwritten digits (the UCI "Optical Recognition of Handwritten Digits"
test set; Alpaydin & Kaynak, 1998): 1797 images, 17 grey levels 0..16, labels 0..9.

It ships inside scikit-learn, so it is always available offline: the quickest real image set.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.images import to_unit_range
from gankit.errors import ConfigError

# The split must not depend on the user's seed: train and test have to stay disjoint.
SPLIT_SEED = 0
TRAIN_FRACTION = 0.8
MAX_LEVEL = 16  # grey levels in load_digits run 0..16


@DATASETS.register("digits")
def load_digits_dataset(opts: LoadOptions) -> Dataset:
    from sklearn.datasets import load_digits  # imported lazily: sklearn is slow to import

    bunch = load_digits()
    pixels = np.rint(bunch.images * (255.0 / MAX_LEVEL)).astype(np.uint8)
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    n_train = round(TRAIN_FRACTION * len(labels))
    if opts.split == "train":
        keep = order[:n_train]
    elif opts.split == "test":
        keep = order[n_train:]
    elif opts.split == "all":
        keep = np.arange(len(labels))
    else:
        raise ConfigError(f"digits has splits 'train', 'test' and 'all', not {opts.split!r}")
    return Dataset(
        x=to_unit_range(pixels[keep]).unsqueeze(1),
        y=torch.from_numpy(labels[keep]),
        kind="image",
        name="digits",
        class_names=[str(d) for d in range(10)],
    )
