"""Image pairs and unpaired domains: the folder formats and helpers of translation datasets.

A paired dataset holds the input as ``x`` (also named ``a``) and the aligned target as field
``b``; an unpaired one holds domain A as ``x`` / ``a`` and domain B as the unpaired field
``b``. ``load_dataset`` leaves datasets with such fields to their loader for
``data.image_size`` and ``data.channels``, because only the loader knows how input and target
relate (a super-resolution input is a quarter of its target): every loader here applies one
rule to both sides.

Folder formats (docs/translation-data.md has examples):

- ``paired-folder``: a split folder holds either ``A/`` and ``B/`` (partners share their path
  below A/ and B/, extension aside) or side-by-side ``AB`` images, A on the left half, as
  Pix2Pix's datasets are stored (Isola et al. 2017; facades, maps, edges2shoes).
- ``unpaired-folder``: ``trainA/``, ``trainB/``, ``testA/``, ``testB/``, as CycleGAN's
  datasets are stored (Zhu et al. 2017).
- ``sr-folder``: high-resolution images; seeded random crops of ``data.image_size`` (HR) and
  their Pillow-bicubic /4 reductions (LR), the SRGAN training recipe (Ledig et al. 2017, Sec.
  3: 96x96 HR crops, LR by bicubic x4 reduction).

Split rule of paired-folder and sr-folder: if ``data.root`` has a ``train/``, ``test/`` or
``val/`` folder, the splits are those folders (``test`` reads ``test/``, else ``val/``;
``all`` reads every one present); otherwise ``data.root`` itself is the only split, read by
``train`` and ``all``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.folder import decode_all, images_under, open_image, probe, unreadable
from gankit.data.images import to_channels
from gankit.errors import ConfigError, DataError

SR_SCALE = 4  # the x4 of SRGAN (Ledig et al. 2017, Sec. 3)


def reduce_bicubic(pixels: np.ndarray, scale: int = SR_SCALE) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C) -> (N, H/scale, W/scale[, C]) by Pillow's BICUBIC
    resize (``Image.resize(size, Image.Resampling.BICUBIC)``, which antialiases by widening
    the kernel when shrinking), image by image; H and W must be multiples of ``scale``."""
    from PIL import Image

    n, h, w = pixels.shape[:3]
    if h % scale or w % scale:
        raise ValueError(f"{h}x{w} is not a multiple of {scale}")
    out = np.empty((n, h // scale, w // scale, *pixels.shape[3:]), dtype=np.uint8)
    for i in range(n):
        image = Image.fromarray(pixels[i])
        out[i] = np.asarray(image.resize((w // scale, h // scale), Image.Resampling.BICUBIC))
    return out


def nhwc_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1]."""
    from gankit.data.images import to_unit_range

    if pixels.ndim == 3:
        return to_unit_range(pixels).unsqueeze(1)
    return to_unit_range(pixels).permute(0, 3, 1, 2).contiguous()


def only_channels(images: dict[str, torch.Tensor], channels: int | None) -> dict[str, torch.Tensor]:
    """``data.channels`` applied to every image; for sets whose sizes are fixed by the task."""
    if channels is None:
        return images
    return {k: to_channels(v, channels) for k, v in images.items()}


def refuse_resize(name: str, image_size: int | None, native: int, why: str) -> None:
    """ConfigError unless ``image_size`` is None or the dataset's own side ``native``."""
    if image_size not in (None, native):
        raise ConfigError(
            f"dataset {name!r} is {native}x{native} and cannot take data.image_size="
            f"{image_size} ({why}); leave data.image_size unset"
        )


# --- which folders a split reads -------------------------------------------------------------
SPLIT_FOLDERS = ("train", "val", "test")


def data_root(opts: LoadOptions, what: str) -> Path:
    """``data.root`` as an existing folder, or one DataError saying what it should hold."""
    if opts.root is None:
        raise DataError(f"dataset {opts.name!r} needs data.root=DIR, {what}")
    if not opts.root.is_dir():
        raise DataError(f"{opts.root} does not exist or is not a folder; check data.root")
    return opts.root


def split_folders(root: Path, split: str, name: str) -> list[Path]:
    """The folders ``split`` reads under the split rule of the module docstring."""
    present = [s for s in SPLIT_FOLDERS if (root / s).is_dir()]
    if not present:
        if split == "test":
            raise ConfigError(
                f"{root} has no train/, test/ or val/ folder, so dataset {name!r} reads it as "
                f"one training split; use data.split=train, or put held-out data in {root}/test/"
            )
        return [root]
    if split == "all":
        return [root / s for s in present]
    wanted = ["train"] if split == "train" else ["test", "val"]
    found = [root / s for s in wanted if s in present]
    if not found:
        raise DataError(
            f"{root} has {', '.join(s + '/' for s in present)} but no "
            f"{' or '.join(s + '/' for s in wanted)} folder for data.split={split}; add it"
        )
    return found[:1]


def _images_in(folder: Path, why: str) -> list[Path]:
    files = images_under(folder)
    if not files:
        raise DataError(f"{folder} holds no PNG/JPEG images; {why}")
    return files


def _common_size(files: list[Path], sizes: list[tuple[int, int]], image_size: int | None):
    """(width, height) every image is decoded to: data.image_size, else the one shared size."""
    if image_size is not None:
        return image_size, image_size
    odd = next((i for i, s in enumerate(sizes) if s != sizes[0]), None)
    if odd is not None:
        (w0, h0), (w1, h1) = sizes[0], sizes[odd]
        raise DataError(
            f"images differ in size ({w0}x{h0} for {files[0]}, {w1}x{h1} for {files[odd]}); "
            "set data.image_size=N to resize them all to NxN"
        )
    return sizes[0]


def _channels(requested: int | None, colour: dict[str, bool], where: Path) -> int:
    """data.channels, else the native count, which both sides must share."""
    if requested is not None:
        return requested
    if len(set(colour.values())) > 1:
        grey = [k for k, c in colour.items() if not c][0]
        rgb = [k for k, c in colour.items() if c][0]
        raise DataError(
            f"in {where}, {grey} is greyscale but {rgb} has colour images; set "
            "data.channels=3 (or 1) to convert both sides to the same channel count"
        )
    return 3 if any(colour.values()) else 1


def _decode(path: Path, mode: str, box: tuple | None, size: tuple[int, int] | None) -> np.ndarray:
    """One image (or the ``box`` (left, top, right, bottom) of it) as uint8 (H, W[, C]),
    resized to ``size`` (width, height) by Lanczos as ``folder`` does; None keeps its size."""
    from PIL import Image

    with open_image(path) as image:
        try:
            picture = image.convert(mode)
            if box is not None:
                picture = picture.crop(box)
            if size is not None and picture.size != size:
                picture = picture.resize(size, Image.Resampling.LANCZOS)
            return np.asarray(picture)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise unreadable(path, exc) from None


# --- paired-folder ---------------------------------------------------------------------------
def _by_name(folder: Path) -> dict[str, Path]:
    """Images below ``folder`` keyed by their path below it without the extension."""
    found: dict[str, Path] = {}
    for path in images_under(folder):
        key = path.relative_to(folder).with_suffix("").as_posix()
        if key in found:
            raise DataError(
                f"{found[key]} and {path} differ only in extension, so their partner is "
                "ambiguous; keep one"
            )
        found[key] = path
    return found


def match_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(A file, B file) for every name in ``folder``/A and ``folder``/B; DataError naming the
    first file without a partner and how many there are."""
    side = {s: _by_name(folder / s) for s in "AB"}
    for s, other in (("A", "B"), ("B", "A")):
        alone = sorted(set(side[s]) - set(side[other]))
        if alone:
            first = side[s][alone[0]].relative_to(folder / s)
            raise DataError(
                f"{len(alone)} image(s) in {folder / s} have no partner of the same name in "
                f"{folder / other} (first: {first}); add the partners or remove those files"
            )
    if not side["A"]:
        raise DataError(f"{folder / 'A'} and {folder / 'B'} hold no PNG/JPEG images")
    return [(side["A"][k], side["B"][k]) for k in sorted(side["A"])]


def _paired_items(folder: Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(A/B pairs, AB files) of one split folder: one of the two lists is empty."""
    has = {s: (folder / s).is_dir() for s in "AB"}
    if has["A"] and has["B"]:
        return match_pairs(folder), []
    if has["A"] or has["B"]:
        there, missing = ("A", "B") if has["A"] else ("B", "A")
        raise DataError(
            f"{folder} has {there}/ but no {missing}/; paired-folder needs both A/ (inputs) "
            "and B/ (targets, same file names), or side-by-side AB images"
        )
    files = images_under(folder)
    if not files:
        raise DataError(
            f"{folder} holds neither A/ and B/ folders nor side-by-side AB images; see "
            "docs/translation-data.md for the layouts"
        )
    return [], files


def _ab_half_size(files: list[Path], sizes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each AB image's half (width / 2, height); the halves must be square."""
    for path, (w, h) in zip(files, sizes, strict=True):
        if w != 2 * h:
            raise DataError(
                f"{path} is {w}x{h}; a side-by-side AB image must be twice as wide as high "
                "(A on the left half, B on the right, each square)"
            )
    return [(w // 2, h) for w, h in sizes]


@DATASETS.register("paired-folder")
def load_paired_folder(opts: LoadOptions) -> Dataset:
    root = data_root(opts, "a folder with A/ and B/ (or side-by-side AB images)")
    folders = split_folders(root, opts.split, "paired-folder")
    pairs, ab_files = [], []
    for folder in folders:
        p, ab = _paired_items(folder)
        pairs += p
        ab_files += ab
    a_sizes, a_colour = probe([a for a, _ in pairs])
    b_sizes, b_colour = probe([b for _, b in pairs])
    for (a, b), sa, sb in zip(pairs, a_sizes, b_sizes, strict=True):
        if sa != sb:
            raise DataError(
                f"{a} is {sa[0]}x{sa[1]} but its partner {b} is {sb[0]}x{sb[1]}; partners "
                "must have the same size"
            )
    ab_sizes, ab_colour = probe(ab_files)
    ab_sizes = _ab_half_size(ab_files, ab_sizes)
    files = [a for a, _ in pairs] + ab_files
    size = _common_size(files, a_sizes + ab_sizes, opts.image_size)
    colour = ({"A/": a_colour, "B/": b_colour} if pairs else {}) | (
        {"AB images": ab_colour} if ab_files else {}
    )
    channels = _channels(opts.channels, colour, root)
    mode = "L" if channels == 1 else "RGB"
    a_pix = [_decode(a, mode, None, size) for a, _ in pairs]
    b_pix = [_decode(b, mode, None, size) for _, b in pairs]
    for path, (w, h) in zip(ab_files, ab_sizes, strict=True):
        a_pix.append(_decode(path, mode, (0, 0, w, h), size))
        b_pix.append(_decode(path, mode, (w, 0, 2 * w, h), size))
    return Dataset(
        x=nhwc_to_tensor(np.stack(a_pix)),
        y=None,
        kind="image",
        name="paired-folder",
        info={"source": str(root), "folders": [str(f) for f in folders]},
        fields={"b": nhwc_to_tensor(np.stack(b_pix))},
        aliases={"a": "x"},
    )


# --- unpaired-folder -------------------------------------------------------------------------
@DATASETS.register("unpaired-folder")
def load_unpaired_folder(opts: LoadOptions) -> Dataset:
    root = data_root(opts, "a folder with trainA/ and trainB/ (and testA/, testB/)")
    prefixes = {"train": ["train"], "test": ["test"], "all": ["train", "test"]}[opts.split]
    if opts.split == "test" and not any((root / f"test{s}").is_dir() for s in "AB"):
        raise ConfigError(
            f"{root} has no testA/ or testB/ folder, so dataset 'unpaired-folder' has no test "
            "split there; use data.split=train, or add testA/ and testB/"
        )
    domains: dict[str, list[Path]] = {"A": [], "B": []}
    for prefix in prefixes:
        for s in "AB":
            folder = root / f"{prefix}{s}"
            if not folder.is_dir():
                raise DataError(
                    f"{root} has no {prefix}{s}/ folder; unpaired-folder needs {prefix}A/ and "
                    f"{prefix}B/, one folder of images per domain"
                )
            domains[s] += _images_in(folder, "each domain needs at least one image")
    (a_sizes, a_colour), (b_sizes, b_colour) = probe(domains["A"]), probe(domains["B"])
    # both domains share one size: a translator maps an image to one of the same shape
    size = _common_size(domains["A"] + domains["B"], a_sizes + b_sizes, opts.image_size)
    channels = _channels(opts.channels, {"domain A": a_colour, "domain B": b_colour}, root)
    a, b = (decode_all(domains[s], size, channels) for s in "AB")
    return Dataset(
        x=nhwc_to_tensor(a),
        y=None,
        kind="image",
        name="unpaired-folder",
        info={"source": str(root)},
        unpaired={"b": nhwc_to_tensor(b)},
        aliases={"a": "x"},
    )


# --- sr-folder -------------------------------------------------------------------------------
SR_DEFAULT_SIZE = 96  # SRGAN's HR crop side (Ledig et al. 2017, Sec. 3.2)
# Crops per image = ceil(SR_COVERAGE * H * W / size**2): each pixel lies in about 8 crops.
SR_COVERAGE = 8


def sr_crops(files: list[Path], size: int, channels: int, seed: int, limit: int) -> np.ndarray:
    """uint8 (N, size, size[, 3]) crops, seeded (exact recipe in docs/translation-data.md)."""
    rng = np.random.default_rng(seed)
    mode = "L" if channels == 1 else "RGB"
    crops = []
    for path in files:
        pixels = _decode(path, mode, None, None)
        h, w = pixels.shape[:2]
        if h < size or w < size:
            raise DataError(
                f"{path} is {w}x{h}, smaller than the {size}x{size} crops; remove it or set a "
                "smaller data.image_size (a multiple of 4)"
            )
        k = math.ceil(SR_COVERAGE * h * w / size**2)
        tops, lefts = rng.integers(0, h - size + 1, k), rng.integers(0, w - size + 1, k)
        crops += [pixels[t : t + size, x : x + size].copy() for t, x in zip(tops, lefts)]
    if len(crops) > limit:
        keep = np.sort(rng.choice(len(crops), limit, replace=False))
        crops = [crops[i] for i in keep]
    return np.stack(crops)


@DATASETS.register("sr-folder")
def load_sr_folder(opts: LoadOptions) -> Dataset:
    root = data_root(opts, "a folder of high-resolution PNG/JPEG images")
    size = SR_DEFAULT_SIZE if opts.image_size is None else opts.image_size
    if size % SR_SCALE:
        raise ConfigError(
            f"sr-folder crops data.image_size={size} pixels, which must be a multiple of "
            f"{SR_SCALE} (the x{SR_SCALE} scale); e.g. {size - size % SR_SCALE or SR_SCALE}"
        )
    files = []
    for folder in split_folders(root, opts.split, "sr-folder"):
        files += _images_in(folder, "sr-folder needs high-resolution images to crop")
    _, colour = probe(files)
    channels = opts.channels or (3 if colour else 1)
    hr = sr_crops(files, size, channels, opts.seed, opts.n_samples)
    return Dataset(
        x=nhwc_to_tensor(reduce_bicubic(hr, SR_SCALE)),
        y=None,
        kind="image",
        name="sr-folder",
        info={"source": str(root), "scale": SR_SCALE},
        fields={"b": nhwc_to_tensor(hr)},
        aliases={"a": "x"},
    )
