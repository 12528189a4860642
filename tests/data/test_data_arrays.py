import numpy as np
import pytest
import torch

from gankit.data import load_dataset
from gankit.errors import DataError

RNG = np.random.default_rng(0)


def _npy(tmp_path, array, name="data.npy"):
    path = tmp_path / name
    np.save(path, array)
    return path


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((4, 5, 6), (1, 5, 6)),
        ((4, 3, 5, 6), (3, 5, 6)),
        ((4, 1, 5, 6), (1, 5, 6)),
        ((4, 5, 6, 3), (3, 5, 6)),
    ],
)
def test_uint8_image_layouts(tmp_path, shape, expected):
    pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
    ds = load_dataset("array", root=_npy(tmp_path, pixels))
    assert ds.kind == "image" and ds.shape == expected and ds.x.dtype == torch.float32
    assert ds.x.min() >= -1 and ds.x.max() <= 1
    if shape[-1] == 3:  # NHWC: channel c of pixel (h, w) must land at [c, h, w]
        assert ds.x[1, 2, 3, 4] == pixels[1, 3, 4, 2] / 127.5 - 1


def test_float_vectors_and_images(tmp_path):
    vectors = RNG.normal(size=(10, 3))
    ds = load_dataset("array", root=_npy(tmp_path, vectors), image_size=8)
    assert ds.kind == "vector" and ds.x.dtype == torch.float32
    assert torch.allclose(ds.x, torch.from_numpy(vectors).float())
    images = RNG.uniform(-1, 1, (2, 1, 4, 4)).astype(np.float32)
    assert load_dataset("array", root=_npy(tmp_path, images, "i.npy")).kind == "image"
    with pytest.raises(DataError, match=r"scaled to \[-1, 1\]"):
        load_dataset("array", root=_npy(tmp_path, images * 255, "big.npy"))


def test_npz_keys_and_labels(tmp_path):
    path = tmp_path / "set.npz"
    images = RNG.integers(0, 256, (5, 4, 4), dtype=np.uint8)
    np.savez(path, images=images, labels=np.array([0, 2, 1, 2, 0]))
    ds = load_dataset("array", root=path)
    assert ds.y.tolist() == [0, 2, 1, 2, 0] and ds.y.dtype == torch.int64
    assert ds.num_classes == 3 and ds.info["source"] == str(path)
    np.savez(path, images)  # a single unnamed array (arr_0)
    assert load_dataset("array", root=path).y is None


def _error(tmp_path, match, name="bad.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=match):
        load_dataset("array", root=path)


def test_npz_errors(tmp_path):
    img = np.zeros((3, 4, 4), np.uint8)
    _error(tmp_path, "key 'x' or 'images'", a=img, b=img)
    _error(tmp_path, "key 'x' or 'images'", y=np.arange(3))
    _error(tmp_path, "2 labels for 3 items", x=img, y=np.arange(2))
    _error(tmp_path, "1-D integer", x=img, y=np.zeros(3))
    _error(tmp_path, "negative", x=img, y=np.array([0, -1, 1]))


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((0, 4, 4), np.uint8), "empty"),
        (np.zeros(5, np.float32), "shape"),
        (np.zeros((2, 2, 2, 2, 2), np.float32), "shape"),
        (np.zeros((4, 5), np.uint8), "uint8 arrays must be images"),
        (np.zeros((4, 5, 5, 5), np.uint8), "1 or 3 channels"),
        (np.zeros((4, 5), np.int64), "int64"),
        (np.array([[np.nan, 1.0]]), "NaN"),
    ],
)
def test_npy_errors(tmp_path, array, match):
    with pytest.raises(DataError, match=match):
        load_dataset("array", root=_npy(tmp_path, array))


def test_object_arrays_are_never_unpickled(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="object dtype"):
        load_dataset("array", root=path)
    npz = tmp_path / "obj.npz"
    np.savez(npz, x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match="object dtype"):
        load_dataset("array", root=npz)


def test_unreadable_files(tmp_path):
    path = _npy(tmp_path, np.zeros((10, 8, 8), np.uint8))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="truncated"):
        load_dataset("array", root=path)
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(DataError):
        load_dataset("array", root=tmp_path / "junk.npz")
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(DataError, match=".npy or .npz"):
        load_dataset("array", root=tmp_path / "data.csv")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("array", root=tmp_path / "missing.npy")
