"""Built-in translation tasks, on tiny Fashion-MNIST-format files the tests write themselves."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.feature import canny

from gankit.data import DATASETS, load_dataset, translation
from gankit.data.images import from_unit_range
from gankit.data.mnist import FASHION_MNIST
from gankit.data.paired import reduce_bicubic
from gankit.errors import ConfigError

RNG = np.random.default_rng(15)


def _garments(n: int) -> np.ndarray:
    """uint8 (n, 28, 28): a bright random rectangle with texture on black, like a garment."""
    images = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        top, left = RNG.integers(3, 10, 2)
        h, w = RNG.integers(8, 15, 2)
        images[i, top : top + h, left : left + w] = RNG.integers(120, 256, (h, w))
    return images


def _write_fashion(write_idx, folder: Path, train_labels, test_labels):
    """Train and test IDX files in ``folder``; returns the images written."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, labels in (("train", train_labels), ("t10k", test_labels)):
        images = _garments(len(labels))
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.asarray(labels, np.uint8))
        out[prefix] = images
    return out


@pytest.fixture
def fashion(tmp_path, write_idx, isolated_dirs):
    labels = [7, 9, 0, 7, 9, 3, 7, 9, 9, 7, 1, 9]  # halves: [7 9 0 7 9 3] | [7 9 9 7 1 9]
    written = _write_fashion(write_idx, tmp_path / "fm", labels, [9, 7, 7, 2])
    return tmp_path / "fm", written, np.array(labels), isolated_dirs[0]


def test_canny_edges_are_binary_and_follow_skimage():
    images = _garments(3)
    edges = translation.canny_edges(images)
    assert edges.dtype == np.uint8 and set(np.unique(edges)) <= {0, 255}
    assert (edges > 0).any(axis=(1, 2)).all()  # every rectangle has an outline
    for image, edge in zip(images, edges, strict=True):
        want = canny(image, sigma=1.0)  # skimage's defaults on uint8 are our explicit ones
        assert np.array_equal(edge > 0, want)
    assert not edges[:, 0].any() and not edges[:, :, -1].any()  # the border is never an edge


def test_edges_cache_is_written_read_and_repaired(tmp_path, monkeypatch, isolated_dirs):
    images = _garments(5)
    first = translation.cached_canny_edges(images)
    files = list((isolated_dirs[0] / "fashion-edges").glob("edges-*.bin"))
    assert len(files) == 1 and np.array_equal(first, translation.canny_edges(images))

    def no_canny(_):
        raise AssertionError("recomputed although the cache holds the edges")

    with monkeypatch.context() as patched:
        patched.setattr(translation, "canny_edges", no_canny)
        assert np.array_equal(translation.cached_canny_edges(images), first)
    blob = bytearray(files[0].read_bytes())
    blob[0] ^= 0xFF  # a flipped byte fails the sha256: recomputed and rewritten
    files[0].write_bytes(bytes(blob))
    assert np.array_equal(translation.cached_canny_edges(images), first)
    assert files[0].read_bytes() != bytes(blob)
    other = images.copy()
    other[0, 10, 10] ^= 1  # other pixels, other cache entry
    translation.cached_canny_edges(other)
    assert len(list(files[0].parent.glob("edges-*.bin"))) == 2


def test_fashion_edges_loads_pairs(fashion):
    root, written, labels, _ = fashion
    ds = load_dataset("fashion-edges", root=root)
    assert ds.x.shape == ds.fields["b"].shape == (12, 1, 28, 28)
    assert set(ds.x.unique().tolist()) == {-1.0, 1.0}
    assert ds.field_names == ["x", "y", "b", "a"] and ds.aliases == {"a": "x"}
    assert np.array_equal(from_unit_range(ds.fields["b"][:, 0]).numpy(), written["train"])
    edges = translation.canny_edges(written["train"])
    assert np.array_equal(from_unit_range(ds.x[:, 0]).numpy(), edges)
    assert ds.y.tolist() == labels.tolist() and ds.class_names == list(FASHION_MNIST.class_names)
    again = load_dataset("fashion-edges", root=root)  # from the cache this time
    assert again.fingerprint() == ds.fingerprint()
    test = load_dataset("fashion-edges", root=root, split="test")
    assert len(test) == 4 and len(load_dataset("fashion-edges", root=root, split="all")) == 16
    rgb = load_dataset("fashion-edges", root=root, split="test", channels=3)
    assert rgb.x.shape == rgb.fields["b"].shape == (4, 3, 28, 28)
    with pytest.raises(ConfigError, match="fashion-edges.*image_size=32"):
        load_dataset("fashion-edges", root=root, image_size=32)


def test_fashion_x4_is_pillow_bicubic(fashion):
    root, written, labels, _ = fashion
    ds = load_dataset("fashion-x4", root=root, split="test")
    assert ds.x.shape == (4, 1, 7, 7) and ds.fields["b"].shape == (4, 1, 28, 28)
    for i, image in enumerate(written["t10k"]):
        small = Image.fromarray(image).resize((7, 7), Image.Resampling.BICUBIC)
        assert np.array_equal(from_unit_range(ds.x[i, 0]).numpy(), np.asarray(small))
    assert np.array_equal(from_unit_range(ds.fields["b"][:, 0]).numpy(), written["t10k"])
    assert ds.info["scale"] == 4 and ds.y.tolist() == [9, 7, 7, 2]
    assert load_dataset("fashion-x4", root=root, image_size=28).x.shape == (12, 1, 7, 7)
    with pytest.raises(ConfigError, match="image_size=14"):
        load_dataset("fashion-x4", root=root, image_size=14)
    rgb = load_dataset("fashion-x4", root=root, channels=3)
    assert rgb.x.shape == (12, 3, 7, 7) and rgb.fields["b"].shape == (12, 3, 28, 28)


def test_sneaker_boot_draws_domains_from_disjoint_halves(fashion):
    root, written, labels, _ = fashion
    images = torch.from_numpy(written["train"]).float().div(127.5).sub(1).unsqueeze(1)
    ds = load_dataset("sneaker-boot", root=root)
    a_idx = [i for i in range(6) if labels[i] == 7]  # first half's sneakers
    b_idx = [i for i in range(6, 12) if labels[i] == 9]  # second half's ankle boots
    assert torch.equal(ds.x, images[a_idx]) and torch.equal(ds.unpaired["b"], images[b_idx])
    assert ds.y is None and ds.fields == {} and ds.aliases == {"a": "x"}
    assert ds.info["classes"] == {"a": 7, "b": 9}
    test = load_dataset("sneaker-boot", root=root, split="test")
    assert len(test) == 2 and len(test.unpaired["b"]) == 1
    both = load_dataset("sneaker-boot", root=root, split="all", image_size=32, channels=3)
    assert both.x.shape == (4, 3, 32, 32) and both.unpaired["b"].shape == (4, 3, 32, 32)


def test_sneaker_boot_without_one_class_is_one_error():
    x = torch.zeros(3, 1, 28, 28)
    with pytest.raises(ConfigError, match="no sneakers or no ankle boots"):
        translation.sneaker_boot_task(x, torch.tensor([7, 7, 1]), x, torch.tensor([1, 2, 3]))


def test_tasks_are_registered():
    for name in ("fashion-edges", "fashion-x4", "sneaker-boot", "derain"):
        assert name in DATASETS.names()


def test_add_rain_is_seeded_and_only_brightens():
    clean = RNG.integers(0, 200, (32, 32, 3), dtype=np.uint8)
    one = translation.add_rain(clean, np.random.default_rng(3))
    assert np.array_equal(one, translation.add_rain(clean, np.random.default_rng(3)))
    assert not np.array_equal(one, translation.add_rain(clean, np.random.default_rng(4)))
    assert (one >= clean).all() and (one > clean).mean() > 0.05
    black = translation.add_rain(np.zeros_like(clean), np.random.default_rng(3))
    assert (black[..., 0] == black[..., 2]).all() and black.max() > 60  # one grey streak layer
    white = np.full_like(clean, 255)  # screen blending cannot go past white
    assert np.array_equal(translation.add_rain(white, np.random.default_rng(3)), white)


def test_derain_crops_come_from_their_split_region():
    # pixels that name their column: R = column % 256, G = column // 256
    cols = np.arange(640)
    photo = np.zeros((40, 640, 3), np.uint8)
    photo[..., 0], photo[..., 1] = cols % 256, cols // 256
    for split, regions in translation.DERAIN_REGIONS.items():
        rainy, clean = translation.derain_pairs([photo, photo], split, 16)
        assert rainy.shape == clean.shape == (translation.DERAIN_CROPS[split], 16, 16, 3)
        column = clean[..., 0].astype(int) + 256 * clean[..., 1].astype(int)
        inside = np.zeros(640, bool)
        for c0, c1 in regions:
            inside[c0:c1] = True
            hits = ((column >= c0) & (column < c1)).all(axis=(1, 2))
            assert hits.any()  # every region is used
        assert inside[column].all()
        # a crop lies inside one region, never across the gap between two
        assert ((column.max(axis=(1, 2)) - column.min(axis=(1, 2))) == 15).all()


def test_derain_dataset_is_fixed_and_visibly_rainy():
    ds = load_dataset("derain", split="test")
    assert ds.x.shape == ds.fields["b"].shape == (100, 3, 64, 64)
    assert ds.aliases == {"a": "x"} and ds.y is None
    again = load_dataset("derain", split="test", seed=7)  # train.seed does not change the task
    assert again.fingerprint() == ds.fingerprint()
    mse = ((ds.x - ds.fields["b"]) / 2).pow(2).mean(dim=(1, 2, 3))
    psnr = -10 * mse.log10()
    assert 18 < psnr.mean() < 30 and (psnr < 40).all()  # rain everywhere, scene still there
    grey = load_dataset("derain", split="test", channels=1, image_size=32)
    assert grey.x.shape == grey.fields["b"].shape == (100, 1, 32, 32)
    with pytest.raises(ConfigError, match="derain.*image_size=200.*16..160"):
        load_dataset("derain", split="test", image_size=200)


def test_docs_recipes_are_the_code():
    """docs/translation-data.md's code blocks make the same bytes as the loaders."""
    doc = Path(__file__).parents[2] / "docs" / "translation-data.md"
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", doc.read_text(), re.S):
        exec(block, namespace)
    images = _garments(4)
    edges = np.stack([namespace["fashion_edges_input"](im) for im in images])
    assert np.array_equal(edges, translation.canny_edges(images))
    small = np.stack([namespace["fashion_x4_input"](im) for im in images])
    assert np.array_equal(small, reduce_bicubic(images, 4))
    clean = RNG.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    doc_rain = namespace["add_rain"](clean, np.random.default_rng(5))
    assert np.array_equal(doc_rain, translation.add_rain(clean, np.random.default_rng(5)))
