"""MNIST and Fashion-MNIST from their IDX files, found locally or (Fashion only) downloaded.

MNIST: LeCun, Bottou, Bengio & Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 1998; files at http://yann.lecun.com/exdb/mnist/.
Fashion-MNIST: Xiao, Rasul & Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking
Machine Learning Algorithms", arXiv:1708.07747, 2017; files and MD5s in the README of
https://github.com/zalandoresearch/fashion-mnist.

Search order for each split's two files (``<stem>.gz`` preferred over raw ``<stem>``):
``root`` if given, the user cache (``$GANKIT_DATA/<name>``, else
``$XDG_CACHE_HOME/gankit/<name>``, else ``~/.cache/gankit/<name>``), then Debian's
``/usr/share/datasets/<name>/`` (package ``dataset-fashion-mnist``).

Checksums. The Fashion-MNIST SHA-256 values below are of the official files. They are *not*
the hashes of the Debian copies: Debian's strip-nondeterminism rewrote each gzip header
(dropped the stored file name, set the mtime to the 2020 build time), so those files are 24/23
bytes shorter than the official ones. The compressed data is untouched, though: restoring the
header (file name plus the original mtime, 2017-08-31 10:50:06/27 UTC) reproduces files whose
sizes (26421880, 29515, 4422102, 5148) and MD5s match the official README exactly; the hashes
here were computed from those reconstructions. No SHA-256 of the MNIST files could be
established offline, so MNIST is never downloaded: place its files yourself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.download import fetch_verified
from gankit.data.idx import read_idx
from gankit.data.images import to_unit_range
from gankit.errors import ConfigError, DataError

# Module-level so tests can point it at an empty folder.
SYSTEM_DATASETS = Path("/usr/share/datasets")

SPLIT_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class IdxSource:
    name: str
    title: str
    class_names: tuple[str, ...]
    base_url: str | None  # None: downloading is disabled (no verified checksum)
    sha256: dict[str, str]  # "<stem>.gz" -> sha256 of the official file
    debian_package: str | None = None


FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    title="Fashion-MNIST",
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    base_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    sha256={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",  # noqa: E501
    },
    debian_package="dataset-fashion-mnist",
)

MNIST = IdxSource(
    name="mnist",
    title="MNIST",
    class_names=tuple(str(d) for d in range(10)),
    base_url=None,
    sha256={},
)


def cache_dir(name: str) -> Path:
    """Per-dataset user cache folder; one folder per dataset since both use the same file names."""
    if base := os.environ.get("GANKIT_DATA"):
        return Path(base).expanduser() / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    base_cache = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base_cache / "gankit" / name


def search_dirs(source: IdxSource, root: Path | None) -> list[Path]:
    dirs = [root] if root is not None else []
    return [*dirs, cache_dir(source.name), SYSTEM_DATASETS / source.name]


def find_split(dirs: list[Path], stems: tuple[str, ...]) -> list[Path] | None:
    """The split's files from the first folder that has all of them, gzipped or raw."""
    for folder in dirs:
        found = []
        for stem in stems:
            candidates = [folder / f"{stem}.gz", folder / stem]
            hit = next((p for p in candidates if p.is_file()), None)
            if hit is None:
                break
            found.append(hit)
        else:
            return found
    return None


def _missing_message(source: IdxSource, split: str, dirs: list[Path]) -> str:
    files = ", ".join(f"{stem}[.gz]" for stem in SPLIT_STEMS[split])
    where = ", ".join(str(d) for d in dirs)
    head = f"{source.title} {split} files ({files}) not found in [{where}]; "
    if source.base_url is None:
        why = " (gankit has no verified checksum for them, so it never downloads them)"
        return head + f"put the files in a directory and pass data.root=DIR{why}"
    debian = (
        f"install the Debian package `{source.debian_package}`, " if source.debian_package else ""
    )
    return head + f"{debian}pass data.root=DIR, or allow download with data.download=true"


def _locate(source: IdxSource, opts: LoadOptions, split: str) -> list[Path]:
    dirs = search_dirs(source, opts.root)
    stems = SPLIT_STEMS[split]
    found = find_split(dirs, stems)
    if found is not None:
        return found
    if not opts.download or source.base_url is None:
        raise DataError(_missing_message(source, split, dirs))
    target = cache_dir(source.name)
    paths = []
    for stem in stems:
        file_name = f"{stem}.gz"
        dest = target / file_name
        if not dest.is_file():
            fetch_verified(source.base_url + file_name, dest, source.sha256[file_name])
        paths.append(dest)
    return paths


def _read_split(
    source: IdxSource, opts: LoadOptions, split: str
) -> tuple[np.ndarray, np.ndarray, Path]:
    image_path, label_path = _locate(source, opts, split)
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3:
        raise DataError(f"{image_path} has shape {images.shape}; expected images (N, H, W)")
    if labels.ndim != 1:
        raise DataError(f"{label_path} has shape {labels.shape}; expected labels (N,)")
    if len(images) != len(labels):
        raise DataError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} "
            "labels; the files belong to different sets or one is damaged"
        )
    if labels.max() >= len(source.class_names):
        raise DataError(
            f"{label_path} has label {labels.max()}, but {source.title} has "
            f"{len(source.class_names)} classes; the file is damaged"
        )
    return images, labels, image_path.parent


def load_idx_dataset(source: IdxSource, opts: LoadOptions) -> Dataset:
    splits = ["train", "test"] if opts.split == "all" else [opts.split]
    if any(split not in SPLIT_STEMS for split in splits):
        raise ConfigError(f"{source.name} has splits 'train', 'test' and 'all', not {opts.split!r}")
    parts = [_read_split(source, opts, split) for split in splits]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    return Dataset(
        x=to_unit_range(images).unsqueeze(1),
        y=torch.from_numpy(labels.astype(np.int64)),
        kind="image",
        name=source.name,
        class_names=list(source.class_names),
        info={"source": str(parts[0][2])},  # folder of the (first) split used
    )


@DATASETS.register("fashion-mnist")
def load_fashion_mnist(opts: LoadOptions) -> Dataset:
    return load_idx_dataset(FASHION_MNIST, opts)


@DATASETS.register("mnist")
def load_mnist(opts: LoadOptions) -> Dataset:
    return load_idx_dataset(MNIST, opts)
