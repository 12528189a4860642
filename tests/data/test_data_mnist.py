import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.data import load_dataset, mnist
from gankit.data.download import fetch_verified
from gankit.errors import ConfigError, DataError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
RNG = np.random.default_rng(0)


def _write_split(write_idx, folder: Path, prefix: str, n: int, gz: bool = True, n_labels=None):
    folder.mkdir(parents=True, exist_ok=True)
    images = RNG.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = RNG.integers(0, 10, n if n_labels is None else n_labels, dtype=np.uint8)
    write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz=gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz=gz)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_root(tmp_path, write_idx, isolated_dirs, gz):
    images, labels = _write_split(write_idx, tmp_path / "m", "train", 6, gz=gz)
    _write_split(write_idx, tmp_path / "m", "t10k", 4, gz=gz)
    ds = load_dataset("mnist", root=tmp_path / "m")
    assert ds.kind == "image" and ds.x.shape == (6, 1, 28, 28) and ds.x.dtype == torch.float32
    assert ds.x.min() >= -1 and ds.x.max() <= 1
    assert torch.equal(ds.x[:, 0], torch.from_numpy(images).float() / 127.5 - 1)
    assert ds.y.dtype == torch.int64 and ds.y.tolist() == labels.tolist()
    assert ds.num_classes == 10 and ds.info["source"] == str(tmp_path / "m")
    assert len(load_dataset("mnist", root=tmp_path / "m", split="test")) == 4
    assert len(load_dataset("mnist", root=tmp_path / "m", split="all")) == 10
    resized = load_dataset("mnist", root=tmp_path / "m", image_size=32, channels=3)
    assert resized.x.shape == (6, 3, 32, 32)


def test_search_order_root_then_cache_then_system(tmp_path, write_idx, isolated_dirs):
    cache, system = isolated_dirs
    _write_split(write_idx, system / "mnist", "train", 3)
    assert len(load_dataset("mnist")) == 3
    _write_split(write_idx, cache / "mnist", "train", 2)
    assert len(load_dataset("mnist")) == 2
    _write_split(write_idx, tmp_path / "root", "train", 1)
    assert len(load_dataset("mnist", root=tmp_path / "root")) == 1


def test_cache_dir_follows_xdg_when_gankit_data_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert mnist.cache_dir("mnist") == tmp_path / "gankit" / "mnist"


def test_image_label_count_mismatch(tmp_path, write_idx, isolated_dirs):
    _write_split(write_idx, tmp_path, "train", 5, n_labels=4)
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        load_dataset("mnist", root=tmp_path)


def test_label_out_of_range(tmp_path, write_idx, isolated_dirs):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([1, 12], np.uint8))
    with pytest.raises(DataError, match="label 12"):
        load_dataset("mnist", root=tmp_path)


def test_truncated_idx_in_a_dataset(tmp_path, write_idx, isolated_dirs):
    _write_split(write_idx, tmp_path, "train", 3, gz=False)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated"):
        load_dataset("mnist", root=tmp_path)


def test_missing_mnist_never_downloads(tmp_path, isolated_dirs, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tests must never download")

    monkeypatch.setattr(mnist, "fetch_verified", no_network)
    for download in (False, True):
        with pytest.raises(DataError, match="MNIST train files .* not found .*data.root=DIR"):
            load_dataset("mnist", root=tmp_path, download=download)


def test_missing_fashion_suggests_debian_and_download(isolated_dirs):
    with pytest.raises(DataError, match="dataset-fashion-mnist.*data.download=true"):
        load_dataset("fashion-mnist")


def test_fashion_download_is_wired_to_verified_fetch(isolated_dirs, monkeypatch, write_idx):
    cache, _ = isolated_dirs
    calls = []

    def fake_fetch(url, dest, sha256):
        calls.append((url, dest, sha256))
        stem = dest.name.removesuffix(".gz")
        shape = (2, 28, 28) if "images" in stem else (2,)
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_idx(dest.with_suffix(""), np.zeros(shape, np.uint8))
        return dest

    monkeypatch.setattr(mnist, "fetch_verified", fake_fetch)
    ds = load_dataset("fashion-mnist", split="test", download=True)
    assert len(ds) == 2
    assert [c[1] for c in calls] == [
        cache / "fashion-mnist" / "t10k-images-idx3-ubyte.gz",
        cache / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz",
    ]
    assert calls[0][0].startswith(mnist.FASHION_MNIST.base_url)
    assert calls[0][2] == mnist.FASHION_MNIST.sha256["t10k-images-idx3-ubyte.gz"]


def test_bad_split(tmp_path):
    with pytest.raises(ConfigError):
        load_dataset("mnist", root=tmp_path, split="validation")


class _FakeResponse:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, n=-1):
        out, self.data = self.data[:n], self.data[n:]
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_fetch_verified_checks_sha256(tmp_path, monkeypatch):
    from gankit.data import download

    payload = b"some bytes" * 1000
    monkeypatch.setattr(download, "urlopen", lambda url, timeout: _FakeResponse(payload))
    dest = tmp_path / "sub" / "file.gz"
    good = hashlib.sha256(payload).hexdigest()
    with pytest.raises(DataError, match="sha256"):
        fetch_verified("http://example.invalid/file.gz", dest, "0" * 64)
    assert list(dest.parent.iterdir()) == []  # no partial file left behind
    assert fetch_verified("http://example.invalid/file.gz", dest, good) == dest
    assert dest.read_bytes() == payload
    assert list(dest.parent.iterdir()) == [dest]


def test_fetch_verified_network_error(tmp_path, monkeypatch):
    from urllib.error import URLError

    from gankit.data import download

    def offline(url, timeout):
        raise URLError("no route")

    monkeypatch.setattr(download, "urlopen", offline)
    with pytest.raises(DataError, match="could not download"):
        fetch_verified("http://example.invalid/x", tmp_path / "x", "0" * 64)
    assert list(tmp_path.iterdir()) == []


needs_debian = pytest.mark.skipif(
    not (DEBIAN_FASHION / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed",
)


@needs_debian
def test_debian_fashion_mnist(isolated_dirs, monkeypatch):
    monkeypatch.setattr(mnist, "SYSTEM_DATASETS", DEBIAN_FASHION.parent)
    train = load_dataset("fashion-mnist")
    test = load_dataset("fashion-mnist", split="test")
    assert train.x.shape == (60000, 1, 28, 28) and test.x.shape == (10000, 1, 28, 28)
    assert train.x.min() == -1 and train.x.max() == 1
    assert torch.bincount(train.y).tolist() == [6000] * 10
    assert train.class_names[0] == "T-shirt/top" and train.class_names[9] == "Ankle boot"


# Debian's strip-nondeterminism dropped the stored file name and reset the mtime in each gzip
# header; putting back the original header must give the official files our hashes describe.
# MD5s published in the official README (shipped by Debian as README.md.gz).
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
OFFICIAL_MTIMES = {
    "train-images-idx3-ubyte.gz": 1504176606,
    "train-labels-idx1-ubyte.gz": 1504176606,
    "t10k-images-idx3-ubyte.gz": 1504176627,
    "t10k-labels-idx1-ubyte.gz": 1504176627,
}


@needs_debian
@pytest.mark.parametrize("name", sorted(OFFICIAL_MTIMES))
def test_fashion_checksums_are_those_of_the_official_files(name):
    debian = (DEBIAN_FASHION / name).read_bytes()
    assert debian[3] == 0  # FLG: no file name stored
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", OFFICIAL_MTIMES[name]) + debian[8:10]
    official = header + name.removesuffix(".gz").encode() + b"\0" + debian[10:]
    assert hashlib.md5(official).hexdigest() == OFFICIAL_MD5[name]
    assert hashlib.sha256(official).hexdigest() == mnist.FASHION_MNIST.sha256[name]
