"""Segmentation data: image / mask pairs, as the field ``mask`` (N, 1, H, W) int64 beside ``x``.

- ``lesions``: a built-in, seeded, procedural set of grey images with a few small bright
  lesions on a textured background, and their binary masks (the adversarial segmentation of
  lecture 004; Kohl et al. 2017). Not clinical data: a controlled task whose amount of
  labelled data can be chosen (``data.n_samples`` training images, 2000 by default).
  :func:`lesion_image` gives the exact recipe. Splits are disjoint by seed: image i of split
  s is drawn from ``np.random.default_rng([18, s, i])``, s = 0 train, 1 val, 2 test; the test
  and val splits hold 500 images each, whatever ``data.n_samples`` and the run's seed, so
  every run is scored on the same images, and n training images are the first n of one
  sequence (the 50 are among the 200). ``data.image_size`` draws at another side (16..128;
  default 32). :func:`lesion_set` also gives the val split, which ``load_dataset`` cannot
  name (its splits are train / test / all).
- ``mask-folder``: a user's folder with ``images/`` and ``masks/`` whose files share their
  path below each (extension aside); or ``train/``, ``val/``, ``test/`` folders each holding
  both (the split rule of paired-folder). Masks are PNGs: binary (0/255 or 0/1 over the whole
  set) or integer class indices 0..K-1 (K <= 32). Images may be grey or RGB.
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.folder import probe
from gankit.data.paired import (
    _by_name,
    _channels,
    _common_size,
    _decode,
    data_root,
    nhwc_to_tensor,
    split_folders,
)
from gankit.errors import ConfigError, DataError

LESION_SEED = 18  # issue 18; fixed, so that every run sees the same images
LESION_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}
LESION_HELD_OUT = 500  # images in the val and the test split
LESION_SIDE = 32
LESION_SIDES = (16, 128)
# the recipe's constants, as fractions of the side S or of the 0..1 intensity range
TEXTURE_SIGMA = 1 / 16  # Gaussian smoothing of the background noise: sigma = S/16 pixels
TEXTURE_STD = 0.08  # std of the smoothed texture
BASE_LEVEL = (0.35, 0.55)  # mean background intensity ~ U
GRADIENT = (0.0, 0.20)  # intensity change across the image along a random direction ~ U
PIXEL_NOISE = (0.02, 0.06)  # std of the white pixel noise ~ U
LESION_COUNT = (1, 3)  # lesions per image ~ integers, inclusive
LESION_AXIS = (0.04, 0.12)  # semi-axes ~ U, times S (1.3..3.8 pixels at 32)
LESION_CONTRAST = (0.08, 0.35)  # added intensity ~ U: from hidden in the texture to obvious
LESION_WOBBLE = (0.0, 0.35)  # amplitude of the boundary's harmonic ~ U (0: an ellipse)
MAX_CLASSES = 32


def lesion_image(rng: np.random.Generator, side: int) -> tuple[np.ndarray, np.ndarray]:
    """One (uint8 image (S, S), uint8 mask (S, S) of 0/1), drawing from ``rng`` in this order:

    1. texture: n ~ N(0, 1)^(S x S), smoothed by scipy.ndimage.gaussian_filter(sigma=S/16,
       mode="wrap"), scaled to std 0.08;
    2. base b ~ U(0.35, 0.55), gradient amplitude g ~ U(0, 0.2), direction t ~ U(0, 2 pi):
       background = b + texture + g ((u - c) cos t + (v - c) sin t) / S, c = (S - 1) / 2;
    3. count k ~ integers(1, 4); per lesion: centre (cu, cv) ~ U(0.15 S, 0.85 S)^2, semi-axes
       (a1, a2) ~ U(0.04 S, 0.12 S)^2, angle phi ~ U(0, pi), contrast q ~ U(0.08, 0.35),
       wobble w ~ U(0, 0.35), harmonic m ~ integers(2, 5), phase psi ~ U(0, 2 pi). In the
       lesion's frame (p, r) = rotation by -phi of (u - cu, v - cv), with polar angle th, the
       lesion is rho = sqrt((p / a1)^2 + (r / a2)^2) <= 1 + w sin(m th + psi) (an ellipse
       with an irregular rim), and adds q (1 - 0.5 rho^2) inside: brighter at its centre;
    4. pixel noise e ~ N(0, s^2), s ~ U(0.02, 0.06) drawn first, then e;
    5. image = round(255 clip(background + lesions + e, 0, 1)); mask = union of the lesions.
    """
    from scipy.ndimage import gaussian_filter

    s = side
    texture = gaussian_filter(rng.standard_normal((s, s)), sigma=s * TEXTURE_SIGMA, mode="wrap")
    texture *= TEXTURE_STD / max(float(texture.std()), 1e-12)
    base, grad = rng.uniform(*BASE_LEVEL), rng.uniform(*GRADIENT)
    theta = rng.uniform(0, 2 * np.pi)
    v, u = np.mgrid[0:s, 0:s].astype(np.float64)  # v: row, u: column
    c = (s - 1) / 2
    image = base + texture + grad * ((u - c) * np.cos(theta) + (v - c) * np.sin(theta)) / s
    mask = np.zeros((s, s), dtype=bool)
    for _ in range(int(rng.integers(LESION_COUNT[0], LESION_COUNT[1] + 1))):
        cu, cv = rng.uniform(0.15 * s, 0.85 * s, 2)
        a1, a2 = rng.uniform(LESION_AXIS[0] * s, LESION_AXIS[1] * s, 2)
        phi, q = rng.uniform(0, np.pi), rng.uniform(*LESION_CONTRAST)
        wobble, m = rng.uniform(*LESION_WOBBLE), int(rng.integers(2, 5))
        psi = rng.uniform(0, 2 * np.pi)
        p = (u - cu) * np.cos(phi) + (v - cv) * np.sin(phi)
        r = -(u - cu) * np.sin(phi) + (v - cv) * np.cos(phi)
        rho = np.sqrt((p / a1) ** 2 + (r / a2) ** 2)
        inside = rho <= 1 + wobble * np.sin(m * np.arctan2(r, p) + psi)
        image += np.where(inside, q * (1 - 0.5 * rho**2), 0.0)
        mask |= inside
    image += rng.standard_normal((s, s)) * rng.uniform(*PIXEL_NOISE)
    pixels = np.round(255 * np.clip(image, 0.0, 1.0)).astype(np.uint8)
    return pixels, mask.astype(np.uint8)


def lesion_set(split: str, n: int, side: int = LESION_SIDE) -> Dataset:
    """Images 0..n-1 of the lesion ``split`` (train, val or test) as a Dataset: x (N, 1, S, S)
    in [-1, 1], field mask (N, 1, S, S) int64 of 0 / 1."""
    if split not in LESION_SPLIT_CODE:
        raise ConfigError(f"lesions has splits train, val, test (and all); not {split!r}")
    if not LESION_SIDES[0] <= side <= LESION_SIDES[1]:
        lo, hi = LESION_SIDES
        raise ConfigError(f"lesions draws data.image_size={side}; use {lo}..{hi} (default 32)")
    images, masks = [], []
    for i in range(n):
        rng = np.random.default_rng([LESION_SEED, LESION_SPLIT_CODE[split], i])
        image, mask = lesion_image(rng, side)
        images.append(image)
        masks.append(mask)
    return _segmentation(
        "lesions", np.stack(images), np.stack(masks), 2, {"seed": LESION_SEED, "split": split}
    )


def _segmentation(name: str, images: np.ndarray, masks: np.ndarray, k: int, info) -> Dataset:
    return Dataset(
        x=nhwc_to_tensor(images),
        y=None,
        kind="image",
        name=name,
        info={**info, "classes": k},
        fields={"mask": torch.from_numpy(masks.astype(np.int64)).unsqueeze(1)},
    )


@DATASETS.register("lesions")
def load_lesions(opts: LoadOptions) -> Dataset:
    side = LESION_SIDE if opts.image_size is None else opts.image_size
    if opts.channels not in (None, 1):
        raise ConfigError("lesions images are grey; leave data.channels unset (or 1)")
    n_train = opts.n_samples
    if opts.split == "all":
        parts = [lesion_set("train", n_train, side), lesion_set("test", LESION_HELD_OUT, side)]
        x = torch.cat([p.x for p in parts])
        mask = torch.cat([p.fields["mask"] for p in parts])
        return Dataset(x=x, y=None, kind="image", name="lesions", info=parts[0].info,
                       fields={"mask": mask})  # fmt: skip
    return lesion_set(opts.split, n_train if opts.split == "train" else LESION_HELD_OUT, side)


# --- mask-folder -------------------------------------------------------------------------------
def mask_pairs(folder) -> list[tuple]:
    """(image, mask) paths of one split folder holding images/ and masks/."""
    for sub in ("images", "masks"):
        if not (folder / sub).is_dir():
            raise DataError(
                f"{folder} has no {sub}/ folder; mask-folder needs images/ and masks/ with "
                "the same file names"
            )
    side = {s: _by_name(folder / s) for s in ("images", "masks")}
    for s, other in (("images", "masks"), ("masks", "images")):
        alone = sorted(set(side[s]) - set(side[other]))
        if alone:
            first = side[s][alone[0]].relative_to(folder / s)
            raise DataError(
                f"{len(alone)} file(s) in {folder / s} have no partner of the same name in "
                f"{folder / other} (first: {first}); add the partners or remove those files"
            )
    if not side["images"]:
        raise DataError(f"{folder / 'images'} and {folder / 'masks'} hold no PNG/JPEG images")
    return [(side["images"][k], side["masks"][k]) for k in sorted(side["images"])]


def read_mask(path, size: tuple[int, int] | None) -> np.ndarray:
    """One mask as its raw values (H, W), nearest-neighbour resized to ``size`` (w, h): a
    label is never blended with its neighbours. DataError for colour, lossy or float masks."""
    from PIL import Image

    from gankit.data.folder import open_image, unreadable

    if path.suffix.lower() != ".png":
        raise DataError(
            f"mask {path} is not a PNG; JPEG compression blurs labels into non-integer "
            "values. Save masks as PNG"
        )
    with open_image(path) as image:
        if image.mode not in ("1", "L", "P", "I", "I;16", "F"):
            raise DataError(
                f"mask {path} is {image.mode}; masks must be single-channel PNGs of class "
                "indices (0/255 or 0/1 for binary)"
            )
        try:
            if size is not None and image.size != size:
                image = image.resize(size, Image.Resampling.NEAREST)
            values = np.asarray(image).astype(np.float64)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise unreadable(path, exc) from None
    if not np.all(values == np.round(values)) or values.min() < 0:
        raise DataError(f"mask {path} holds non-integer or negative values; use class indices")
    return values.astype(np.int64)


def mask_labels(masks: list[np.ndarray], files: list) -> tuple[np.ndarray, int]:
    """Raw masks -> (labels (N, H, W) uint8, K): 0/255 over the whole set -> 0/1, else the
    values are class indices 0..K-1, K = largest + 1 (at least 2), at most 32."""
    stack = np.stack(masks)
    values = set(np.unique(stack).tolist())
    if values <= {0, 255}:
        return (stack // 255).astype(np.uint8), 2
    top = max(values)
    if top >= MAX_CLASSES:
        # the first mask with a value that is neither 0/255 nor a small class index
        odd = {0, 255} if 255 in values else set(range(MAX_CLASSES))
        first, value = next(
            (f, v) for f, m in zip(files, masks, strict=True) for v in np.unique(m) if v not in odd
        )
        raise DataError(
            f"mask {first} holds the value {value}: masks are binary 0/255 (or 0/1) or class "
            f"indices below {MAX_CLASSES} (an antialiased or resampled mask?); write exact labels"
        )
    return stack.astype(np.uint8), max(2, int(top) + 1)


@DATASETS.register("mask-folder")
def load_mask_folder(opts: LoadOptions) -> Dataset:
    root = data_root(opts, "a folder with images/ and masks/ (same file names)")
    pairs = []
    for folder in split_folders(root, opts.split, "mask-folder"):
        pairs += mask_pairs(folder)
    images, mask_files = [p[0] for p in pairs], [p[1] for p in pairs]
    sizes, colour = probe(images)
    mask_sizes, _ = probe(mask_files)
    for image, mask, si, sm in zip(images, mask_files, sizes, mask_sizes, strict=True):
        if si != sm:
            raise DataError(
                f"{image} is {si[0]}x{si[1]} but its mask {mask} is {sm[0]}x{sm[1]}; an image "
                "and its mask must have the same size"
            )
    size = _common_size(images, sizes, opts.image_size)
    channels = _channels(opts.channels, {"images/": colour}, root)
    pixels = [_decode(f, "L" if channels == 1 else "RGB", None, size) for f in images]
    labels, k = mask_labels([read_mask(f, size) for f in mask_files], mask_files)
    return _segmentation("mask-folder", np.stack(pixels), labels, k, {"source": str(root)})
