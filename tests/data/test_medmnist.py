"""MedMNIST .npz input: the package's layout loads; malformed files give one clear line; a
cgan preset and a classifier train on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit import api
from gankit.applications.classify import fit_cnn, predict
from gankit.data import load_dataset
from gankit.errors import DataError
from gankit.runs import load_generator


def medmnist_arrays(n=(30, 10, 20), side=28, rgb=False, classes=3, seed=0) -> dict:
    """Arrays as the medmnist package saves them: uint8 images (N, H, W[, 3]), labels (N, 1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for part, count in zip(("train", "val", "test"), n):
        shape = (count, side, side, 3) if rgb else (count, side, side)
        labels = (np.arange(count) % classes).astype(np.uint8)[:, None]
        # class k is a bright square at a class-specific place, so a classifier can learn it
        images = rng.integers(0, 40, shape, dtype=np.uint8)
        for i, k in enumerate(labels[:, 0]):
            images[i, 4 + 6 * k : 10 + 6 * k, 4:20] = 230
        out[f"{part}_images"], out[f"{part}_labels"] = images, labels
    return out


def write(path, arrays) -> str:
    np.savez_compressed(path, **arrays)
    return str(path)


def test_layout_loads_each_split(tmp_path):
    arrays = medmnist_arrays()
    root = write(tmp_path / "bloodmnist.npz", arrays)
    train = load_dataset("medmnist", root=root)
    test = load_dataset("medmnist", root=root, split="test")
    every = load_dataset("medmnist", root=root, split="all")
    assert train.x.shape == (30, 1, 28, 28) and len(test) == 20 and len(every) == 60
    assert train.y.tolist() == arrays["train_labels"][:, 0].tolist()
    assert train.num_classes == test.num_classes == 3
    assert float(train.x.min()) == -1.0 and float(train.x.max()) == pytest.approx(230 / 127.5 - 1)


def test_rgb_and_flat_labels(tmp_path):
    arrays = medmnist_arrays(rgb=True)
    arrays["train_labels"] = arrays["train_labels"][:, 0].astype(np.int64)
    ds = load_dataset("medmnist", root=write(tmp_path / "path.npz", arrays))
    assert ds.x.shape == (30, 3, 28, 28)
    want = arrays["train_images"][5].transpose(2, 0, 1).astype(np.float32) / 127.5 - 1
    assert np.allclose(ds.x[5].numpy(), want)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda a: a.pop("val_labels"), "lacks MedMNIST keys val_labels"),
        (
            lambda a: a.update(train_images=np.zeros((30, 28), np.uint8)),
            "(N, H, W) or (N, H, W, 3)",
        ),
        (lambda a: a.update(train_images=np.zeros((30, 28, 28, 2), np.uint8)), "uint8 (N, H, W)"),
        (lambda a: a.update(train_images=np.zeros((30, 28, 28), np.float32)), "float32"),
        (lambda a: a.update(train_labels=np.zeros((29, 1), np.uint8)), "29 labels for 30 images"),
        (lambda a: a.update(train_labels=np.zeros((30, 14), np.uint8)), "multi-label"),
        (lambda a: a.update(train_labels=np.array([None] * 30, dtype=object)), "object dtype"),
    ],
)
def test_malformed_files_give_one_line(tmp_path, change, words):
    arrays = medmnist_arrays()
    change(arrays)
    with pytest.raises(DataError) as err:
        load_dataset("medmnist", root=write(tmp_path / "bad.npz", arrays))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_not_a_zip_or_missing_file(tmp_path):
    np.save(tmp_path / "plain.npy", np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError, match="not an .npz archive"):
        load_dataset("medmnist", root=tmp_path / "plain.npy")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("medmnist", root=tmp_path / "nope.npz")


def test_cgan_preset_and_classifier_train_on_it(tmp_path):
    root = write(tmp_path / "organ.npz", medmnist_arrays(n=(60, 6, 30)))
    tiny = {
        "data.name": "medmnist",
        "data.root": root,
        "model.g_channels": 8,
        "model.d_channels": 8,
        "train.batch_size": 8,
        "log.n_fixed": 9,
        "diagnose.enabled": False,
        "eval.metrics": "",
        "log.progress": False,
    }
    api.train("cgan-fashion", tmp_path / "run", steps=3, seed=0, overrides=tiny)
    G = load_generator(tmp_path / "run")
    assert G.num_classes == 3
    assert G.sample(4, seed=1, label=2).shape == (4, 1, 28, 28)

    train = load_dataset("medmnist", root=root)
    test = load_dataset("medmnist", root=root, split="test")
    net = fit_cnn(train.x, train.y, 3, epochs=8, width=4, batch_size=16, seed=0)
    acc = float((predict(net, test.x) == test.y).float().mean())
    assert acc >= 0.9  # the squares are easy: chance is 1/3
    again = fit_cnn(train.x, train.y, 3, epochs=8, width=4, batch_size=16, seed=0)
    assert all(
        torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values())
    )
