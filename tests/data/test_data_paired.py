"""paired-folder, unpaired-folder and sr-folder on small image files written by the tests."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import DATASETS, load_dataset, paired
from gankit.data.images import from_unit_range
from gankit.errors import ConfigError, DataError

RNG = np.random.default_rng(15)


def _save(path: Path, shape=(8, 8), mode="L", pixels=None) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    if pixels is None:
        pixels = RNG.integers(0, 256, shape if mode == "L" else (*shape, 3), dtype=np.uint8)
    Image.fromarray(pixels, mode).save(path)
    return pixels


def _pixels(t: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> uint8 (N, H, W) for grey, (N, H, W, C) for colour."""
    out = from_unit_range(t).permute(0, 2, 3, 1).numpy()
    return out[..., 0] if out.shape[-1] == 1 else out


def _ab_pairs(folder: Path, names, shape=(8, 8), mode="L"):
    return {
        n: (_save(folder / "A" / n, shape, mode), _save(folder / "B" / n, shape, mode))
        for n in names
    }


# --- paired-folder ---------------------------------------------------------------------------
def test_a_b_folders_pair_by_name_and_are_exact(tmp_path):
    saved = _ab_pairs(tmp_path, ["2.png", "10.png", "sub/1.png"])
    ds = load_dataset("paired-folder", root=tmp_path)
    order = sorted(saved, key=lambda n: n.rsplit(".", 1)[0])  # by path below A/, no extension
    assert ds.x.shape == ds.fields["b"].shape == (3, 1, 8, 8) and ds.y is None
    assert np.array_equal(_pixels(ds.x), np.stack([saved[n][0] for n in order]))
    assert np.array_equal(_pixels(ds.fields["b"]), np.stack([saved[n][1] for n in order]))
    assert ds.field_names == ["x", "b", "a"] and ds.info["source"] == str(tmp_path)


def test_partners_may_differ_in_extension(tmp_path):
    a = _save(tmp_path / "A" / "x.png")
    _save(tmp_path / "B" / "x.jpg", mode="L")
    ds = load_dataset("paired-folder", root=tmp_path)
    assert len(ds) == 1 and np.array_equal(_pixels(ds.x)[0], a)
    _save(tmp_path / "B" / "x.png")
    with pytest.raises(DataError, match=r"x\.(jpg|png) and .*x\.(jpg|png) differ only in ext"):
        load_dataset("paired-folder", root=tmp_path)


def test_side_by_side_ab_images(tmp_path):
    whole = [_save(tmp_path / f"{i}.png", (6, 12), "RGB") for i in range(2)]
    ds = load_dataset("paired-folder", root=tmp_path)
    assert ds.x.shape == ds.fields["b"].shape == (2, 3, 6, 6)
    assert np.array_equal(_pixels(ds.x), np.stack([w[:, :6] for w in whole]))  # A = left half
    assert np.array_equal(_pixels(ds.fields["b"]), np.stack([w[:, 6:] for w in whole]))
    _save(tmp_path / "wide.png", (6, 14))
    with pytest.raises(DataError, match=r"wide\.png is 14x6; .* twice as wide as high"):
        load_dataset("paired-folder", root=tmp_path)


def test_pix2pix_split_folders(tmp_path):
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            _save(tmp_path / split / f"{i}.png", (4, 8))
    assert len(load_dataset("paired-folder", root=tmp_path)) == 3
    assert len(load_dataset("paired-folder", root=tmp_path, split="test")) == 2  # val/ stands in
    for i in range(4):
        _save(tmp_path / "test" / f"{i}.png", (4, 8))
    assert len(load_dataset("paired-folder", root=tmp_path, split="test")) == 4  # test/ wins
    assert len(load_dataset("paired-folder", root=tmp_path, split="all")) == 9
    only_test = tmp_path / "t"
    _save(only_test / "test" / "0.png", (4, 8))
    with pytest.raises(DataError, match=r"has test/ but no train/ folder for data.split=train"):
        load_dataset("paired-folder", root=only_test)


def test_flat_root_has_no_test_split(tmp_path):
    _ab_pairs(tmp_path, ["0.png"])
    assert len(load_dataset("paired-folder", root=tmp_path, split="all")) == 1
    with pytest.raises(ConfigError, match="no train/, test/ or val/ folder.*data.split=train"):
        load_dataset("paired-folder", root=tmp_path, split="test")


def test_partner_problems_are_one_line_each(tmp_path):
    _ab_pairs(tmp_path, ["0.png", "1.png"])
    _save(tmp_path / "A" / "5.png")
    _save(tmp_path / "A" / "7.png")
    with pytest.raises(
        DataError, match=r"2 image\(s\) in .*A have no partner .*B \(first: 5\.png\)"
    ):
        load_dataset("paired-folder", root=tmp_path)
    (tmp_path / "A" / "5.png").unlink()
    (tmp_path / "A" / "7.png").unlink()
    _save(tmp_path / "B" / "9.png")
    with pytest.raises(DataError, match=r"1 image\(s\) in .*B have no partner .*\(first: 9\.png\)"):
        load_dataset("paired-folder", root=tmp_path)
    (tmp_path / "B" / "9.png").unlink()
    _save(tmp_path / "B" / "1.png", (8, 10))
    with pytest.raises(DataError, match=r"1\.png is 8x8 but its partner .*1\.png is 10x8"):
        load_dataset("paired-folder", root=tmp_path)


def test_missing_side_and_empty_folders(tmp_path):
    _save(tmp_path / "A" / "0.png")
    with pytest.raises(DataError, match="has A/ but no B/"):
        load_dataset("paired-folder", root=tmp_path)
    (tmp_path / "B").mkdir()
    with pytest.raises(DataError, match=r"1 image\(s\) in .*A have no partner"):
        load_dataset("paired-folder", root=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="neither A/ and B/ folders nor side-by-side AB"):
        load_dataset("paired-folder", root=empty)
    with pytest.raises(DataError, match="needs data.root=DIR"):
        load_dataset("paired-folder")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("paired-folder", root=tmp_path / "nowhere")


def test_sizes_and_channels(tmp_path):
    _ab_pairs(tmp_path, ["0.png"])
    _ab_pairs(tmp_path, ["1.png"], shape=(10, 10))
    with pytest.raises(DataError, match="differ in size .*set data.image_size=N"):
        load_dataset("paired-folder", root=tmp_path)
    ds = load_dataset("paired-folder", root=tmp_path, image_size=16, channels=3)
    assert ds.x.shape == ds.fields["b"].shape == (2, 3, 16, 16)
    colour = tmp_path / "colour"
    _save(colour / "A" / "0.png")
    _save(colour / "B" / "0.png", mode="RGB")
    with pytest.raises(DataError, match="A/ is greyscale but B/ has colour.*data.channels=3"):
        load_dataset("paired-folder", root=colour)
    ds = load_dataset("paired-folder", root=colour, channels=1)
    assert ds.x.shape == ds.fields["b"].shape == (1, 1, 8, 8)


def test_unreadable_partner_is_named(tmp_path):
    _ab_pairs(tmp_path, ["0.png"])
    (tmp_path / "B" / "0.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image .*B/0\.png"):
        load_dataset("paired-folder", root=tmp_path)


# --- unpaired-folder -------------------------------------------------------------------------
def _domains(root: Path, counts: dict[str, int], shape=(8, 8), mode="L"):
    return {
        d: np.stack([_save(root / d / f"{i}.png", shape, mode) for i in range(n)])
        for d, n in counts.items()
    }


def test_unpaired_folders(tmp_path):
    saved = _domains(tmp_path, {"trainA": 3, "trainB": 5, "testA": 2, "testB": 1})
    ds = load_dataset("unpaired-folder", root=tmp_path)
    assert np.array_equal(_pixels(ds.x), saved["trainA"])
    assert np.array_equal(_pixels(ds.unpaired["b"]), saved["trainB"])
    assert ds.fields == {} and ds.aliases == {"a": "x"} and ds.y is None
    test = load_dataset("unpaired-folder", root=tmp_path, split="test")
    assert len(test) == 2 and len(test.unpaired["b"]) == 1
    both = load_dataset("unpaired-folder", root=tmp_path, split="all", image_size=4, channels=3)
    assert both.x.shape == (5, 3, 4, 4) and both.unpaired["b"].shape == (6, 3, 4, 4)


def test_unpaired_problems(tmp_path):
    _domains(tmp_path, {"trainA": 2})
    with pytest.raises(DataError, match="no trainB/ folder"):
        load_dataset("unpaired-folder", root=tmp_path)
    (tmp_path / "trainB").mkdir()
    with pytest.raises(DataError, match=r"trainB holds no PNG/JPEG images"):
        load_dataset("unpaired-folder", root=tmp_path)
    with pytest.raises(ConfigError, match="no testA/ or testB/ folder"):
        load_dataset("unpaired-folder", root=tmp_path, split="test")
    _domains(tmp_path, {"trainB": 1}, shape=(6, 6))
    with pytest.raises(DataError, match="differ in size"):
        load_dataset("unpaired-folder", root=tmp_path)
    _domains(tmp_path, {"trainB": 1}, mode="RGB")
    with pytest.raises(DataError, match="domain A is greyscale but domain B has colour"):
        load_dataset("unpaired-folder", root=tmp_path)
    assert load_dataset("unpaired-folder", root=tmp_path, channels=3).x.shape == (2, 3, 8, 8)


# --- sr-folder -------------------------------------------------------------------------------
def _position_photo(h: int, w: int) -> np.ndarray:
    """RGB pixels that name their place: R = row, G = column, B = 0."""
    rows, cols = np.mgrid[0:h, 0:w]
    return np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.uint8)


def test_sr_crops_are_seeded_windows_with_bicubic_inputs(tmp_path):
    photo = _save(tmp_path / "hr.png", mode="RGB", pixels=_position_photo(40, 56))
    ds = load_dataset("sr-folder", root=tmp_path, image_size=16, seed=3)
    assert len(ds) == math.ceil(paired.SR_COVERAGE * 40 * 56 / 16**2)
    assert ds.x.shape[1:] == (3, 4, 4) and ds.fields["b"].shape[1:] == (3, 16, 16)
    assert ds.info["scale"] == 4
    hr = _pixels(ds.fields["b"])
    for crop in hr:  # each HR item is a real 16x16 window of the photo
        top, left = int(crop[0, 0, 0]), int(crop[0, 0, 1])
        assert np.array_equal(crop, photo[top : top + 16, left : left + 16])
    want = np.stack(
        [np.asarray(Image.fromarray(c).resize((4, 4), Image.Resampling.BICUBIC)) for c in hr]
    )
    assert np.array_equal(_pixels(ds.x), want)
    same = load_dataset("sr-folder", root=tmp_path, image_size=16, seed=3)
    assert same.fingerprint() == ds.fingerprint()
    other = load_dataset("sr-folder", root=tmp_path, image_size=16, seed=4)
    assert other.fingerprint() != ds.fingerprint()
    capped = load_dataset("sr-folder", root=tmp_path, image_size=16, n_samples=5)
    assert len(capped) == 5


def test_sr_folder_checks(tmp_path):
    _save(tmp_path / "small.png", (20, 30))
    assert load_dataset("sr-folder", root=tmp_path, image_size=20).shape == (1, 5, 5)
    with pytest.raises(ConfigError, match="image_size=18 .* multiple of 4"):
        load_dataset("sr-folder", root=tmp_path, image_size=18)
    with pytest.raises(DataError, match=r"small\.png is 30x20, smaller than the 96x96 crops"):
        load_dataset("sr-folder", root=tmp_path)
    with pytest.raises(DataError, match="needs data.root=DIR"):
        load_dataset("sr-folder")


def test_folder_formats_are_registered():
    for name in ("paired-folder", "unpaired-folder", "sr-folder"):
        assert name in DATASETS.names()
