"""The pieces of the class-imbalance benchmark (benchmarks/imbalance_fashion.py): an
imbalanced draw, its MedMNIST-layout .npz that every command reads, and the generator top-up
that is exactly what ``gankit balance`` writes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import api
from gankit.applications.balance import balance, imbalanced_draw, save_medmnist, top_up
from gankit.data import load_dataset
from gankit.data.images import from_unit_range
from gankit.errors import ConfigError
from gankit.runs import load_generator


def test_imbalanced_draw_keeps_a_seeded_fraction_of_the_minority():
    y = torch.arange(4).repeat_interleave(100)  # 4 classes of 100
    keep = imbalanced_draw(y, {1: 0.05, 3: 0.01}, seed=0)
    counts = torch.bincount(y[keep], minlength=4).tolist()
    assert counts == [100, 5, 100, 1]
    assert torch.equal(keep, keep.sort().values) and len(set(keep.tolist())) == len(keep)
    assert torch.equal(keep, imbalanced_draw(y, {1: 0.05, 3: 0.01}, seed=0))
    assert not torch.equal(keep, imbalanced_draw(y, {1: 0.05, 3: 0.01}, seed=1))
    with pytest.raises(ConfigError, match="class 1"):
        imbalanced_draw(y, {1: 0.0}, seed=0)


def test_save_medmnist_is_read_back_as_the_medmnist_dataset(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (12, 1, 8, 8), generator=g).float() / 127.5 - 1
    y = torch.tensor([0, 1, 2] * 4)
    path = save_medmnist(tmp_path / "imb.npz", (x[:9], y[:9]), (x[9:], y[9:]))
    arrays = np.load(path)
    assert arrays["train_images"].shape == (9, 8, 8) and arrays["val_images"].shape == (0, 8, 8)
    train = load_dataset("medmnist", root=path, split="train")
    test = load_dataset("medmnist", root=path, split="test")
    assert torch.equal(train.y, y[:9]) and torch.equal(test.y, y[9:])
    assert train.num_classes == 3
    assert torch.equal(from_unit_range(train.x), from_unit_range(x[:9]))


def test_top_up_is_what_balance_writes(tmp_path, tiny_apps):
    run = tmp_path / "cg"
    api.train("cgan-digits", run, steps=2, seed=0, overrides=tiny_apps)
    G = load_generator(run)
    y = load_dataset("digits", split="train", image_size=16).y
    counts = torch.bincount(y, minlength=10)
    target = int(counts.max()) + 3
    fake, fake_y = top_up(G, y, 10, target, seed=5)
    assert torch.equal(torch.bincount(fake_y, minlength=10), target - counts)
    balance(run, "digits", tmp_path / "bal", per_class=target, seed=5)
    folder = sorted((tmp_path / "bal").glob("2_*"))[0]
    pngs = sorted(folder.glob("synthetic_*.png"))
    mine = from_unit_range(fake[fake_y == 2]).numpy()[:, 0]
    assert len(pngs) == len(mine)
    assert np.array_equal(np.asarray(Image.open(pngs[-1])), mine[-1])
    assert top_up(G, y, 10, int(counts.min()), seed=5)[0] is None  # nobody short
