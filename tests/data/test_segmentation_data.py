"""The lesion set (seeded, disjoint splits) and the mask-folder format (one line per mistake)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import load_dataset
from gankit.data.segmentation import LESION_HELD_OUT, lesion_image, lesion_set
from gankit.errors import ConfigError, DataError


# --- lesions -----------------------------------------------------------------------------------
def test_lesions_fields_shapes_and_values():
    d = load_dataset("lesions", n_samples=20)
    assert d.x.shape == (20, 1, 32, 32) and d.x.dtype == torch.float32
    mask = d.fields["mask"]
    assert mask.shape == (20, 1, 32, 32) and mask.dtype == torch.int64
    assert set(mask.unique().tolist()) == {0, 1}
    assert (mask.flatten(1).sum(1) > 0).all()  # every image holds at least one lesion
    assert d.info["classes"] == 2 and d.x.min() >= -1 and d.x.max() <= 1


def test_lesions_are_brighter_than_their_surroundings():
    d = lesion_set("train", 200)
    inside = d.x[d.fields["mask"] == 1].mean()
    outside = d.x[d.fields["mask"] == 0].mean()
    assert inside > outside + 0.1  # contrast 0.08..0.35 on [0, 1] is 0.16..0.7 on [-1, 1]


def test_lesions_seeded_nested_and_independent_of_the_run_seed():
    a = load_dataset("lesions", n_samples=50, seed=0)
    b = load_dataset("lesions", n_samples=200, seed=7)
    assert torch.equal(a.x, b.x[:50]) and torch.equal(a.fields["mask"], b.fields["mask"][:50])
    test = load_dataset("lesions", split="test", n_samples=5)
    assert len(test) == LESION_HELD_OUT  # held-out size does not follow n_samples


def test_lesion_splits_are_disjoint():
    train = lesion_set("train", 300).x.flatten(1)
    for split in ("val", "test"):
        other = lesion_set(split, 100).x.flatten(1)
        assert torch.cdist(other, train).min() > 0  # no image of one split is in another
    assert not torch.equal(lesion_set("val", 3).x, lesion_set("test", 3).x)


def test_lesion_recipe_is_exact():
    rng = np.random.default_rng([18, 0, 4])
    image, mask = lesion_image(rng, 32)
    d = lesion_set("train", 5)
    assert np.array_equal(mask, d.fields["mask"][4, 0].numpy())
    assert np.array_equal(image.astype(np.float32) / 127.5 - 1, d.x[4, 0].numpy())


def test_lesion_size_and_bad_options():
    assert load_dataset("lesions", n_samples=2, image_size=64).x.shape == (2, 1, 64, 64)
    for kw in ({"image_size": 8}, {"channels": 3}):
        with pytest.raises(ConfigError) as err:
            load_dataset("lesions", n_samples=2, **kw)
        assert "\n" not in str(err.value)


# --- mask-folder ----------------------------------------------------------------------------------
def _write(folder, names, size=(8, 8), mask_value=255, colour=False):
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        shape = (size[1], size[0], 3) if colour else (size[1], size[0])
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / "images" / name)
        m = np.zeros((size[1], size[0]), np.uint8)
        m[: i + 1, :2] = mask_value
        Image.fromarray(m).save((folder / "masks" / name).with_suffix(".png"))


def test_mask_folder_binary_0_255(tmp_path):
    _write(tmp_path, ["a.png", "b.jpg"])
    d = load_dataset("mask-folder", root=tmp_path)
    assert d.x.shape == (2, 1, 8, 8) and d.fields["mask"].shape == (2, 1, 8, 8)
    assert d.fields["mask"][1, 0, :2, :2].tolist() == [[1, 1], [1, 1]]
    assert int(d.fields["mask"].sum()) == 2 + 4 and d.info["classes"] == 2


def test_mask_folder_class_indices_resize_and_splits(tmp_path):
    _write(tmp_path / "train", ["a.png", "b.png"], size=(16, 16), mask_value=3, colour=True)
    _write(tmp_path / "test", ["c.png"], size=(16, 16), mask_value=2, colour=True)
    d = load_dataset("mask-folder", root=tmp_path, image_size=8)
    assert d.x.shape == (2, 3, 8, 8) and d.info["classes"] == 4
    assert set(d.fields["mask"].unique().tolist()) == {0, 3}  # nearest: labels stay labels
    t = load_dataset("mask-folder", root=tmp_path, split="test")
    assert len(t) == 1 and t.info["classes"] == 3


@pytest.mark.parametrize(
    "damage, words",
    [
        ("missing", "no partner"),
        ("size", "same size"),
        ("values", "value 200"),
        ("jpeg", "not a PNG"),
        ("empty", "no PNG/JPEG"),
        ("nomasks", "no masks/"),
    ],
)
def test_mask_folder_errors_are_one_line(tmp_path, damage, words):
    _write(tmp_path, ["a.png", "b.png"])
    if damage == "missing":
        (tmp_path / "masks" / "b.png").unlink()
    elif damage == "size":
        Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "masks" / "b.png")
    elif damage == "values":
        Image.fromarray(np.full((8, 8), 200, np.uint8)).save(tmp_path / "masks" / "b.png")
    elif damage == "jpeg":
        (tmp_path / "masks" / "b.png").unlink()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "masks" / "b.jpg")
    elif damage == "empty":
        for f in [*(tmp_path / "images").iterdir(), *(tmp_path / "masks").iterdir()]:
            f.unlink()
    elif damage == "nomasks":
        for f in (tmp_path / "masks").iterdir():
            f.unlink()
        (tmp_path / "masks").rmdir()
    with pytest.raises(DataError) as err:
        load_dataset("mask-folder", root=tmp_path)
    msg = str(err.value)
    assert words in msg and "\n" not in msg, msg


def test_mask_folder_rejects_colour_masks_and_takes_0_1(tmp_path):
    _write(tmp_path, ["a.png"])
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "masks" / "a.png")
    with pytest.raises(DataError, match="single-channel"):
        load_dataset("mask-folder", root=tmp_path)
    m = np.zeros((8, 8), np.uint8)
    m[2:4, 2:4] = 1
    Image.fromarray(m).save(tmp_path / "masks" / "a.png")
    d = load_dataset("mask-folder", root=tmp_path)
    assert d.fields["mask"][0, 0].numpy().tolist() == m.tolist()
