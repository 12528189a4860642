"""Built-in image-to-image tasks made offline from Fashion-MNIST (and scikit-learn's photos).

Every degradation is exact and deterministic (docs/translation-data.md gives the recipe):

- ``fashion-edges`` (paired, Isola et al. 2017, "Image-to-Image Translation with Conditional
  Adversarial Networks", Sec. 4: edges -> photo): input ``x`` = skimage.feature.canny of the
  image scaled to [0, 1], sigma = 1.0, hysteresis thresholds 0.1 / 0.2 of the gradient
  magnitude, as a binary 0/255 image (-1/+1); target ``b`` = the image.
- ``fashion-x4`` (paired, Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution
  Using a GAN", Sec. 3: LR = bicubic x4 reduction): input ``x`` = the 28x28 image reduced to
  7x7 by Pillow's BICUBIC resize; target ``b`` = the original.
- ``sneaker-boot`` (unpaired, Zhu et al. 2017, "Unpaired Image-to-Image Translation using
  Cycle-Consistent Adversarial Networks"): domain A = sneakers (class 7) from the first half
  of the training split, domain B = ankle boots (class 9) from the second half, so no garment
  photo lies behind both domains; the test split uses the test sneakers and ankle boots.
- ``derain`` (paired, colour; the rain removal of lecture 004): input ``x`` = seeded
  procedural rain streaks over square crops of the two photographs scikit-learn ships
  (``sklearn.datasets.load_sample_images``), target ``b`` = the clean crop; test crops come
  from columns 240..399 of each photo (the pagoda, the dahlia), train crops from columns
  0..239 and 400..639, so no pixel is in both. The recipe is in :func:`derain_pairs`.

Canny over the 60000 training images takes about 12 CPU seconds, so the edges are cached in
the data cache (``$GANKIT_DATA/fashion-edges``, else ``$XDG_CACHE_HOME/gankit/fashion-edges``,
else ``~/.cache/gankit/fashion-edges``) under a hash of the source pixels, the parameters and
the scikit-image version, written atomically and checked by a sha256 on every read.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace

import numpy as np
import torch

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.images import adjust_images, from_unit_range
from gankit.data.mnist import FASHION_MNIST, cache_dir, load_idx_dataset
from gankit.data.paired import (
    SR_SCALE,
    nhwc_to_tensor,
    only_channels,
    reduce_bicubic,
    refuse_resize,
)
from gankit.errors import ConfigError, GankitError

CANNY_SIGMA = 1.0  # the sigma; Gaussian smoothing before the gradient
# Hysteresis thresholds on the gradient magnitude of the image in [0, 1]: scikit-image's own
# defaults, written out so that a scikit-image release changing them cannot change the task.
CANNY_LOW, CANNY_HIGH = 0.1, 0.2
SNEAKER, ANKLE_BOOT = 7, 9  # Fashion-MNIST class indices
FASHION_SIDE = 28


# --- the degradations, on uint8 arrays --------------------------------------------------------
def canny_edges(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) grey images -> uint8 (N, H, W) edge maps, 255 on an edge, 0 elsewhere.

    skimage.feature.canny(image / 255, sigma=1.0, low_threshold=0.1, high_threshold=0.2) with
    its defaults otherwise (mode="constant", cval=0, no mask, so the 1-pixel border is never
    an edge); Canny, "A Computational Approach to Edge Detection", IEEE PAMI 1986.
    """
    from skimage.feature import canny

    edges = np.empty(images.shape, dtype=np.uint8)
    for i, image in enumerate(images):
        found = canny(
            image.astype(np.float64) / 255.0,
            sigma=CANNY_SIGMA,
            low_threshold=CANNY_LOW,
            high_threshold=CANNY_HIGH,
        )
        edges[i] = found.astype(np.uint8) * 255
    return edges


def _edges_key(images: np.ndarray) -> str:
    import skimage

    params = {
        "sigma": CANNY_SIGMA,
        "low": CANNY_LOW,
        "high": CANNY_HIGH,
        "skimage": skimage.__version__,
        "shape": list(images.shape),
    }
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).data)
    return digest.hexdigest()


def cached_canny_edges(images: np.ndarray) -> np.ndarray:
    """:func:`canny_edges`, read from or written to the cache (see the module docstring).

    The file is the edge map packed 8 pixels a byte (np.packbits) followed by the sha256 of
    those bytes; a file that fails the check is recomputed and replaced. A cache that cannot
    be written (read-only home) only costs the recomputation next time.
    """
    path = cache_dir("fashion-edges") / f"edges-{_edges_key(images)[:40]}.bin"
    n_bytes = (images.size + 7) // 8
    try:
        blob = path.read_bytes()
    except OSError:
        blob = b""
    packed, digest = blob[:n_bytes], blob[n_bytes:]
    if len(packed) == n_bytes and hashlib.sha256(packed).digest() == digest:
        bits = np.unpackbits(np.frombuffer(packed, np.uint8), count=images.size)
        return (bits * 255).astype(np.uint8).reshape(images.shape)
    edges = canny_edges(images)
    packed = np.packbits(edges > 0).tobytes()
    from gankit.runs import atomic_write_bytes  # late: gankit.runs imports the model side

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, packed + hashlib.sha256(packed).digest())
    except (OSError, GankitError):
        pass
    return edges


# --- the tasks, on arrays (so tests need no Fashion-MNIST files) ------------------------------
def edges_task(
    images: np.ndarray, labels: np.ndarray, class_names: list[str], source: str = ""
) -> Dataset:
    """Paired edges -> image: uint8 (N, H, W) images and int labels -> Dataset with x / a =
    edges (N, 1, H, W) in {-1, +1}, field b = the images, y = the labels."""
    edges = cached_canny_edges(images)
    return Dataset(
        x=nhwc_to_tensor(edges),
        y=torch.as_tensor(labels, dtype=torch.int64),
        kind="image",
        name="fashion-edges",
        class_names=list(class_names),
        info={"source": source, "canny_sigma": CANNY_SIGMA},
        fields={"b": nhwc_to_tensor(images)},
        aliases={"a": "x"},
    )


def x4_task(
    images: np.ndarray, labels: np.ndarray, class_names: list[str], source: str = ""
) -> Dataset:
    """Paired x4 super-resolution: uint8 (N, H, W) -> x / a = the Pillow-bicubic reduction
    (N, 1, H/4, W/4), field b = the images (N, 1, H, W), y = the labels."""
    return Dataset(
        x=nhwc_to_tensor(reduce_bicubic(images, SR_SCALE)),
        y=torch.as_tensor(labels, dtype=torch.int64),
        kind="image",
        name="fashion-x4",
        class_names=list(class_names),
        info={"source": source, "scale": SR_SCALE},
        fields={"b": nhwc_to_tensor(images)},
        aliases={"a": "x"},
    )


def sneaker_boot_task(
    a_images: torch.Tensor, a_labels: torch.Tensor, b_images: torch.Tensor, b_labels: torch.Tensor
) -> Dataset:
    """Unpaired: x / a = the sneakers of (a_images, a_labels), unpaired b = the ankle boots of
    (b_images, b_labels); images float (N, C, H, W) in [-1, 1]."""
    a, b = a_images[a_labels == SNEAKER], b_images[b_labels == ANKLE_BOOT]
    if len(a) == 0 or len(b) == 0:
        raise ConfigError("sneaker-boot found no sneakers or no ankle boots in its split")
    return Dataset(
        x=a.contiguous(),
        y=None,
        kind="image",
        name="sneaker-boot",
        info={"classes": {"a": SNEAKER, "b": ANKLE_BOOT}},
        unpaired={"b": b.contiguous()},
        aliases={"a": "x"},
    )


# --- the registered loaders -------------------------------------------------------------------
def _fashion(opts: LoadOptions, split: str | None = None) -> Dataset:
    """Fashion-MNIST at its native size, found (or downloaded) as ``fashion-mnist`` is."""
    native = replace(opts, split=split or opts.split, image_size=None, channels=None)
    return load_idx_dataset(FASHION_MNIST, native)


def _fashion_pixels(opts: LoadOptions) -> tuple[np.ndarray, np.ndarray, str]:
    ds = _fashion(opts)
    return from_unit_range(ds.x[:, 0]).numpy(), ds.y.numpy(), ds.info["source"]


def _finish(ds: Dataset, channels: int | None) -> Dataset:
    adjusted = only_channels({"x": ds.x, **ds.fields}, channels)
    ds.x = adjusted.pop("x")
    ds.fields = adjusted
    return ds


@DATASETS.register("fashion-edges")
def load_fashion_edges(opts: LoadOptions) -> Dataset:
    refuse_resize("fashion-edges", opts.image_size, FASHION_SIDE, "the edges are made at 28x28")
    images, labels, source = _fashion_pixels(opts)
    return _finish(edges_task(images, labels, FASHION_MNIST.class_names, source), opts.channels)


@DATASETS.register("fashion-x4")
def load_fashion_x4(opts: LoadOptions) -> Dataset:
    refuse_resize("fashion-x4", opts.image_size, FASHION_SIDE, "the x4 task is 7x7 -> 28x28")
    images, labels, source = _fashion_pixels(opts)
    return _finish(x4_task(images, labels, FASHION_MNIST.class_names, source), opts.channels)


@DATASETS.register("sneaker-boot")
def load_sneaker_boot(opts: LoadOptions) -> Dataset:
    """train: A from training images [0, 30000), B from [30000, 60000); test: the test split's
    sneakers and ankle boots; all: train's A and B joined with test's."""
    if opts.split == "all":
        parts = [load_sneaker_boot(replace(opts, split=s)) for s in ("train", "test")]
        x = torch.cat([p.x for p in parts])
        b = torch.cat([p.unpaired["b"] for p in parts])
        return replace(parts[0], x=x, unpaired={"b": b})
    ds = _fashion(opts)
    if opts.split == "train":
        half = len(ds) // 2
        task = sneaker_boot_task(ds.x[:half], ds.y[:half], ds.x[half:], ds.y[half:])
    else:
        task = sneaker_boot_task(ds.x, ds.y, ds.x, ds.y)
    task.x = adjust_images(task.x, opts.image_size, opts.channels)
    task.unpaired = {"b": adjust_images(task.unpaired["b"], opts.image_size, opts.channels)}
    task.info["source"] = ds.info["source"]
    return task


# --- derain ----------------------------------------------------------------------------------
DERAIN_SEED = 15  # fixed, so every run and every evaluation sees the same images
DERAIN_SIZE = 64  # default crop side S
# column ranges [c0, c1) of each 427x640 photo; a crop lies wholly inside one of them
DERAIN_REGIONS = {"train": ((0, 240), (400, 640)), "test": ((240, 400),)}
DERAIN_CROPS = {"train": 1000, "test": 100}
DERAIN_SPLIT_CODE = {"train": 0, "test": 1}
RAIN_ANGLE_DEG = 20.0  # streak angle from vertical ~ U(-20, 20) degrees, one per crop
RAIN_DENSITY = (1 / 128, 1 / 64)  # streak count ~ integers(S*S/128, S*S/64 + 1)
RAIN_LENGTH = (0.10, 0.25)  # streak length ~ U(0.10 S, 0.25 S) pixels
RAIN_BRIGHTNESS = (0.35, 0.70)  # streak value ~ U(0.35, 0.70) x 255
RAIN_BLUR = 0.6  # Pillow GaussianBlur radius of the streak layer: soft, like motion blur


def add_rain(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 (S, S, 3) crop -> the same crop in the rain, drawing from ``rng`` in this order:
    angle theta ~ U(-20, 20) degrees; count n ~ rng.integers(S*S // 128, S*S // 64 + 1); then
    per streak: centre (cx, cy) = rng.uniform(0, S, 2), length l ~ U(0.10 S, 0.25 S), value
    v ~ U(0.35, 0.70). Each streak is a 1-pixel line from (cx - l/2 sin theta, cy - l/2 cos
    theta) to (cx + l/2 sin theta, cy + l/2 cos theta) of value round(255 v), drawn in that
    order with PIL.ImageDraw on a black "L" layer R, which is then blurred with
    ImageFilter.GaussianBlur(0.6) and screen-blended onto every channel:
    out = round(255 - (255 - clean) (255 - R) / 255). Screen blending only brightens, as
    light scattered by drops does (the additive rain model O = B + S of Yang et al. 2017,
    "Deep Joint Rain Detection and Removal from a Single Image", Eq. 1, kept within 0..255).
    """
    from PIL import Image, ImageDraw, ImageFilter

    side = clean.shape[0]
    theta = math.radians(rng.uniform(-RAIN_ANGLE_DEG, RAIN_ANGLE_DEG))
    low, high = (int(side * side * d) for d in RAIN_DENSITY)
    layer = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(low, high + 1))):
        cx, cy = rng.uniform(0, side, 2)
        half = rng.uniform(*RAIN_LENGTH) * side / 2
        value = round(255 * rng.uniform(*RAIN_BRIGHTNESS))
        dx, dy = half * math.sin(theta), half * math.cos(theta)
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=value, width=1)
    rain = np.asarray(layer.filter(ImageFilter.GaussianBlur(RAIN_BLUR)), np.float64)[..., None]
    out = 255.0 - (255.0 - clean.astype(np.float64)) * (255.0 - rain) / 255.0
    return np.round(out).astype(np.uint8)


def derain_pairs(photos: list[np.ndarray], split: str, side: int) -> tuple[np.ndarray, ...]:
    """(rainy, clean) uint8 (N, S, S, 3) for ``split`` of the photos (427x640x3 each).

    Crop i: photo i % 2 (china.jpg, flower.jpg), column range [c0, c1) = the split's region
    (i // 2) % (number of regions); rng = np.random.default_rng([15, s, i]) with s = 0 for
    train, 1 for test; top = rng.integers(0, H - S + 1), left = c0 + rng.integers(0,
    c1 - c0 - S + 1); then :func:`add_rain` continues with the same rng.
    """
    regions = DERAIN_REGIONS[split]
    rainy, clean = [], []
    for i in range(DERAIN_CROPS[split]):
        rng = np.random.default_rng([DERAIN_SEED, DERAIN_SPLIT_CODE[split], i])
        photo = photos[i % len(photos)]
        c0, c1 = regions[(i // 2) % len(regions)]
        top = int(rng.integers(0, photo.shape[0] - side + 1))
        left = c0 + int(rng.integers(0, c1 - c0 - side + 1))
        crop = photo[top : top + side, left : left + side]
        clean.append(crop)
        rainy.append(add_rain(crop, rng))
    return np.stack(rainy), np.stack(clean)


@DATASETS.register("derain")
def load_derain(opts: LoadOptions) -> Dataset:
    from sklearn.datasets import load_sample_images

    side = DERAIN_SIZE if opts.image_size is None else opts.image_size
    widest = min(c1 - c0 for regions in DERAIN_REGIONS.values() for c0, c1 in regions)
    if not 16 <= side <= widest:
        raise ConfigError(
            f"derain crops data.image_size={side} pixels; use 16..{widest} (its narrowest region "
            f"is {widest} columns wide), or leave it unset for {DERAIN_SIZE}"
        )
    photos = load_sample_images().images  # china.jpg, flower.jpg, each 427x640 RGB
    splits = ["train", "test"] if opts.split == "all" else [opts.split]
    parts = [derain_pairs(photos, split, side) for split in splits]
    images = {
        "x": nhwc_to_tensor(np.concatenate([p[0] for p in parts])),
        "b": nhwc_to_tensor(np.concatenate([p[1] for p in parts])),
    }
    images = only_channels(images, opts.channels)
    return Dataset(
        x=images["x"],
        y=None,
        kind="image",
        name="derain",
        info={"source": "sklearn.datasets.load_sample_images", "seed": DERAIN_SEED},
        fields={"b": images["b"]},
        aliases={"a": "x"},
    )
