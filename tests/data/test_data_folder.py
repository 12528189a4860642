from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError

RNG = np.random.default_rng(0)


def _save(path: Path, shape=(8, 8), mode="L", pixels=None) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    if pixels is None:
        full = shape if mode == "L" else (*shape, 3)
        pixels = RNG.integers(0, 256, full, dtype=np.uint8)
    Image.fromarray(pixels, mode).save(path)
    return pixels


def test_flat_folder_of_grey_pngs_is_exact(tmp_path):
    saved = [_save(tmp_path / f"{i}.png") for i in range(3)]
    ds = load_dataset("folder", root=tmp_path)
    assert ds.kind == "image" and ds.x.shape == (3, 1, 8, 8) and ds.y is None
    expected = torch.from_numpy(np.stack(saved)).float() / 127.5 - 1
    assert torch.equal(ds.x[:, 0], expected)
    assert ds.info == {"source": str(tmp_path)}


def test_loose_images_make_the_whole_tree_unlabelled(tmp_path):
    _save(tmp_path / "a.png")
    _save(tmp_path / "deeper" / "b.jpg", mode="RGB")
    ds = load_dataset("folder", root=tmp_path)
    assert len(ds) == 2 and ds.y is None
    assert ds.shape == (3, 8, 8)  # one colour image makes the set RGB


def test_class_subfolders(tmp_path):
    for i in range(2):
        _save(tmp_path / "dog" / f"{i}.png")
    _save(tmp_path / "cat" / "nested" / "x.jpeg")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not an image")
    _save(tmp_path / ".hidden" / "h.png")
    ds = load_dataset("folder", root=tmp_path)
    assert ds.class_names == ["cat", "dog"]
    assert ds.y.tolist() == [0, 1, 1] and ds.num_classes == 2


def test_mixed_sizes_need_image_size(tmp_path):
    _save(tmp_path / "a.png", shape=(8, 8))
    _save(tmp_path / "b.png", shape=(10, 12), mode="RGB")
    with pytest.raises(DataError, match="different sizes.*data.image_size"):
        load_dataset("folder", root=tmp_path)
    ds = load_dataset("folder", root=tmp_path, image_size=6)
    assert ds.x.shape == (2, 3, 6, 6)
    assert ds.x.min() >= -1 and ds.x.max() <= 1


@pytest.mark.parametrize(("mode", "channels"), [("L", 3), ("RGB", 1)])
def test_channels_option(tmp_path, mode, channels):
    _save(tmp_path / "a.png", mode=mode)
    assert load_dataset("folder", root=tmp_path, channels=channels).shape == (channels, 8, 8)


def test_corrupt_files_are_named(tmp_path):
    _save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"definitely not a png")
    with pytest.raises(DataError, match="bad.png"):
        load_dataset("folder", root=tmp_path)


def test_truncated_image_is_named(tmp_path):
    _save(tmp_path / "good.png")
    _save(tmp_path / "cut.jpg", shape=(64, 64), mode="RGB")
    data = (tmp_path / "cut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.jpg"):
        load_dataset("folder", root=tmp_path, image_size=8)


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="no PNG/JPEG images"):
        load_dataset("folder", root=tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("folder", root=tmp_path / "missing")
    with pytest.raises(DataError, match="data.root"):
        load_dataset("folder")
    with pytest.raises(ConfigError):
        load_dataset("folder", root=tmp_path, split="test")
