"""A folder of PNG/JPEG images, searched recursively, optionally one subfolder per class.

Layout rule: if ``root`` holds image files directly, every image below it is used, unlabelled.
Otherwise each subfolder that contains images (at any depth) is a class; sorted subfolder
names give labels 0..K-1 (the torchvision ``ImageFolder`` convention). Names starting with
"." are skipped: they are hidden files such as macOS ``._x.png`` resource forks, not images.

Every file is read through Pillow; resizing uses Lanczos resampling (Pillow's
``Image.Resampling.LANCZOS``), which keeps edges sharp when shrinking photographs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.images import to_unit_range
from gankit.errors import ConfigError, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Pillow modes without colour; anything else (RGB, RGBA, CMYK, palette "P", ...) counts as
# colour. Palette images may happen to be grey, but deciding that needs a full decode.
GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def images_under(folder: Path) -> list[Path]:
    """Image files below ``folder`` at any depth, sorted, skipping hidden files and folders."""
    found = []
    for path in folder.rglob("*"):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if not hidden and _is_image(path) and path.is_file():
            found.append(path)
    return sorted(found)


def discover(root: Path) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """(files, labels or None, class names or None) following the layout rule above."""
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    if any(p.is_file() and _is_image(p) for p in entries):
        return images_under(root), None, None
    files, labels, names = [], [], []
    for sub in (p for p in entries if p.is_dir()):
        inside = images_under(sub)
        if inside:
            files += inside
            labels += [len(names)] * len(inside)
            names.append(sub.name)
    if not files:
        raise DataError(
            f"no PNG/JPEG images found in {root} (searched subfolders too); point data.root at "
            "a folder of .png/.jpg/.jpeg files"
        )
    return files, labels, names


def unreadable(path: Path, exc: Exception) -> DataError:
    """The one-line error for an image file that cannot be decoded."""
    return DataError(f"cannot read image {path} ({exc}); remove or replace the file")


def open_image(path: Path):
    """Pillow's lazy image (decompression-bomb limit on), or one DataError naming the file."""
    from PIL import Image

    try:
        return Image.open(path)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise unreadable(path, exc) from None


def probe(files: list[Path]) -> tuple[list[tuple[int, int]], bool]:
    """Sizes (width, height) of every file and whether any is colour, from headers only."""
    sizes, colour = [], False
    for path in files:
        with open_image(path) as image:
            sizes.append(image.size)
            colour = colour or image.mode not in GREY_MODES
    return sizes, colour


def _target_size(
    root: Path, files: list[Path], sizes: list[tuple[int, int]], image_size: int | None
) -> tuple[int, int]:
    if image_size is not None:
        return image_size, image_size
    if len(set(sizes)) > 1:
        first = sizes[0]
        odd = next(i for i, s in enumerate(sizes) if s != first)
        raise DataError(
            f"images in {root} have different sizes ({first[0]}x{first[1]} for {files[0].name}, "
            f"{sizes[odd][0]}x{sizes[odd][1]} for {files[odd].name}); set data.image_size=N to "
            "resize them all to NxN"
        )
    return sizes[0]


def decode_all(files: list[Path], size: tuple[int, int], channels: int) -> np.ndarray:
    """Decode, convert and resize every file into one preallocated (N, H, W, C) uint8 array."""
    from PIL import Image

    width, height = size
    mode = "L" if channels == 1 else "RGB"
    pixels = np.empty((len(files), height, width, channels), dtype=np.uint8)
    for i, path in enumerate(files):
        with open_image(path) as image:
            try:
                converted = image.convert(mode)
                if converted.size != size:
                    converted = converted.resize(size, Image.Resampling.LANCZOS)
                pixels[i] = np.asarray(converted).reshape(height, width, channels)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
                raise unreadable(path, exc) from None
    return pixels


@DATASETS.register("folder")
def load_folder(opts: LoadOptions) -> Dataset:
    if opts.split not in ("train", "all"):
        raise ConfigError(
            f"dataset 'folder' has no {opts.split!r} split (use 'train' or 'all', both meaning "
            "every image); to evaluate on held-out images, point data.root at their own folder"
        )
    root = opts.root
    if root is None:
        raise DataError("dataset 'folder' needs data.root=DIR, a folder of PNG/JPEG images")
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a folder; check data.root")
    files, labels, class_names = discover(root)
    sizes, colour = probe(files)
    size = _target_size(root, files, sizes, opts.image_size)
    channels = opts.channels or (3 if colour else 1)
    pixels = decode_all(files, size, channels)
    return Dataset(
        x=to_unit_range(pixels).permute(0, 3, 1, 2).contiguous(),
        y=None if labels is None else torch.tensor(labels, dtype=torch.int64),
        kind="image",
        name="folder",
        class_names=class_names,
        info={"source": str(root)},
    )
