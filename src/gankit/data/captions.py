"""Captioned images (issue 17): each item has an image ``x`` and field ``text``, the embedding
phi(t) of one of its captions made by a text encoder trained inside gankit (gankit.text).

- ``fashion-captions`` / ``digits-captions``: Fashion-MNIST / scikit-learn's digits with
  captions generated from class and measured attributes (gankit.text.captions gives the recipe).
  The thresholds, and the encoder, come from the training split whatever split is loaded, so a
  test caption means what a training caption means. Each item has ``CAPTIONS_PER_IMAGE``
  captions, draw k with ``default_rng(DRAW_SEED + split index + 10000 k)`` among the training
  phrasings (several per image, as the paper's data has 10 per image); field ``texts`` holds
  their phi(t), (N, K, E), and ``text`` the first, (N, E). The encoder sees captions redrawn
  every epoch.
- ``caption-folder``: a user's folder of images with captions, either ``NAME.txt`` beside
  each image (one caption per line) or ``captions.jsonl`` lines ``{"file": NAME, "captions":
  [...]}`` (a string is one caption); the encoder is trained on them (cached by their content).
  ``texts`` holds ``CAPTIONS_PER_IMAGE`` draws among each image's captions (draw 0 its first
  caption, which is ``text``). Or ``embeddings.npy`` (float (N, E), one row per image in
  sorted file order) for users who bring their own text encoder: then no encoder is kept,
  typed captions are refused, and there is no ``texts`` (one embedding per image).

``info["text_encoder"]`` names the encoder's cache entry; gankit.text.encoder.dataset_encoder
returns it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.data.images import adjust_images, from_unit_range, to_unit_range
from gankit.errors import ConfigError, DataError
from gankit.text.captions import CAPTION_SETS, attribute_codes, draw_captions, measure, thresholds
from gankit.text.encoder import cached_encoder, remember
from gankit.text.typed import encode_captions, tokenize

DRAW_SEED = 17  # the captions of each item (split index, and 10000 per draw, added)
CAPTIONS_PER_IMAGE = 10  # draws per image: Reed et al.'s CUB / Oxford-102 have 10 per image
SPLIT_INDEX = {"train": 0, "test": 1}


def _source(name: str, opts: LoadOptions, split: str) -> Dataset:
    """The uncaptioned images at their native size (through the registry: no import of
    gankit.data.loading, which imports this module)."""
    base = {"fashion-captions": "fashion-mnist", "digits-captions": "digits"}[name]
    return DATASETS.get(base)(replace(opts, name=base, split=split, image_size=None, channels=None))


def _vocab(texts: list[str]) -> list[str]:
    return sorted({w for t in texts for w in tokenize(t)})


def builtin(opts: LoadOptions) -> Dataset:
    """``fashion-captions`` or ``digits-captions``, split train / test / all."""
    cs = CAPTION_SETS[opts.name]
    if opts.split not in ("train", "test", "all"):
        raise ConfigError(f"{opts.name} has splits 'train', 'test' and 'all', not {opts.split!r}")
    train = _source(opts.name, opts, "train")
    grey = from_unit_range(train.x[:, 0]).numpy()
    labels = train.y.numpy()
    values = measure(cs, grey)
    cuts = thresholds(values, labels, len(cs.class_words))
    codes = attribute_codes(values, labels, cuts)
    keys_img = image_keys(cs, labels, codes)

    def epoch_captions(epoch: int):
        texts, stated = draw_captions(cs, labels, codes, seed=1000 + epoch)
        return texts, text_keys(labels, stated), keys_img

    vocab = builtin_vocab(cs)
    spec = {"captions": cs.describe(), "images": train.fingerprint()}
    encoder, record = _encoder(opts.name, vocab, train.x, epoch_captions, spec)

    parts = []
    for split in ["train", "test"] if opts.split == "all" else [opts.split]:
        if split == "train":  # measured above
            ds, c = train, codes
        else:
            ds = _source(opts.name, opts, split)
            c = attribute_codes(
                measure(cs, from_unit_range(ds.x[:, 0]).numpy()), ds.y.numpy(), cuts
            )
        seed = DRAW_SEED + SPLIT_INDEX[split]
        draws = [draw_captions(cs, ds.y.numpy(), c, seed=seed + 10_000 * k)[0]
                 for k in range(CAPTIONS_PER_IMAGE)]  # fmt: skip
        parts.append((ds, _embed_draws(encoder, draws)))
    x = torch.cat([p[0].x for p in parts])
    y = torch.cat([p[0].y for p in parts])
    texts = torch.cat([p[1] for p in parts])
    return Dataset(
        x=adjust_images(x, opts.image_size, opts.channels), y=y, kind="image", name=opts.name,
        class_names=list(cs.class_words), info={"text_encoder": record_ref(record)},
        fields={"text": texts[:, 0].contiguous(), "texts": texts},
    )  # fmt: skip


def builtin_vocab(cs) -> list[str]:
    """Every word a built-in caption can have, held-out phrasings included."""
    blank = {s: "" for s in cs.slots}
    words = {w for t in (*cs.templates, *cs.held_out_templates)
             for w in tokenize(t.format(c="", **blank))}  # fmt: skip
    words |= {w for c in cs.class_words for w in tokenize(c)}
    words |= {w for pair in cs.attributes.values() for w in pair}
    return sorted(words | {"an"})


def image_keys(cs, labels: np.ndarray, codes: dict) -> np.ndarray:
    """(N, 1 + slots) int64: class + 1, then per slot 1 low / 2 high / 3 unlabelled middle."""
    cols = [labels + 1] + [
        np.where(codes[s] < 0, 1, np.where(codes[s] > 0, 2, 3)) for s in cs.slots
    ]
    return np.stack(cols, 1).astype(np.int64)


def text_keys(labels: np.ndarray, stated: np.ndarray) -> np.ndarray:
    """(N, 1 + slots) int64: class + 1, then per slot 1 / 2 for a named word, 0 (any)."""
    words = np.where(stated < 0, 1, np.where(stated > 0, 2, 0))
    return np.concatenate([(labels + 1)[:, None], words], 1).astype(np.int64)


def record_ref(record: dict) -> dict:
    return {"dataset": record["dataset"], "key": record["key"]}


def _encoder(dataset: str, vocab, x, epoch_captions, spec):
    net, record = cached_encoder(dataset, vocab, x, epoch_captions, spec)
    remember(record, net)
    return net, record


def _embed(encoder, texts: list[str]) -> torch.Tensor:
    out = [encode_captions(encoder, texts[s : s + 4096], warn=False)
           for s in range(0, len(texts), 4096)]  # fmt: skip
    return torch.cat(out)


def _embed_draws(encoder, draws: list[list[str]]) -> torch.Tensor:
    """(N, K, E): phi(t) of caption ``draws[k][i]`` at [i, k]. Captions repeat (a small
    grammar), so each distinct one is encoded once."""
    flat = [t for d in draws for t in d]
    unique, inverse = np.unique(np.asarray(flat, dtype=object), return_inverse=True)
    emb = _embed(encoder, [str(u) for u in unique])[torch.from_numpy(inverse.ravel())]
    return emb.view(len(draws), len(draws[0]), -1).transpose(0, 1).contiguous()


DATASETS.register("fashion-captions")(builtin)
DATASETS.register("digits-captions")(builtin)


# --- users' captioned folders ---------------------------------------------------------------
def read_captions(root: Path, files: list[Path]) -> list[list[str]]:
    """Each image's captions from captions.jsonl or NAME.txt files; a DataError naming the
    first image without one, or a caption entry naming a missing image."""
    mapping: dict[str, list[str]] = {}
    jsonl = root / "captions.jsonl"
    if jsonl.is_file():
        for n, line in enumerate(jsonl.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                name, caps = row["file"], row["captions"]
            except (ValueError, KeyError, TypeError) as exc:
                raise DataError(
                    f'{jsonl} line {n} is not {{"file": NAME, "captions": [...]}} ({exc}); '
                    "fix that line"
                ) from None
            mapping[str(name)] = [caps] if isinstance(caps, str) else [str(c) for c in caps]
        known = {f.relative_to(root).as_posix() for f in files} | {f.name for f in files}
        missing = [k for k in mapping if k not in known]
        if missing:
            raise DataError(
                f"{jsonl} names {len(missing)} image(s) not in {root}, e.g. {missing[0]!r}; "
                "remove those lines or add the images"
            )
    out = []
    for f in files:
        caps = mapping.get(f.relative_to(root).as_posix()) or mapping.get(f.name)
        if caps is None and f.with_suffix(".txt").is_file():
            caps = [s.strip() for s in f.with_suffix(".txt").read_text().splitlines()]
        caps = [c for c in (caps or []) if c.strip()]
        if not caps:
            raise DataError(
                f"image {f} has no caption: add {f.with_suffix('.txt').name} (one caption per "
                f"line) or a line for it in {jsonl.name}"
            )
        out.append(caps)
    return out


@DATASETS.register("caption-folder")
def load_caption_folder(opts: LoadOptions) -> Dataset:
    from gankit.data.folder import _target_size, decode_all, images_under, probe

    root = opts.root
    if root is None or not root.is_dir():
        raise DataError(
            f"dataset 'caption-folder' needs data.root=DIR, a folder of images with captions "
            f"(got {root}); see docs/text-to-image.md"
        )
    if opts.split not in ("train", "all"):
        raise ConfigError("caption-folder has one split, 'train' (or 'all'): every image")
    files = images_under(root)
    if not files:
        raise DataError(f"no PNG/JPEG images in {root}; check data.root")
    sizes, colour = probe(files)
    size = _target_size(root, files, sizes, opts.image_size)
    pixels = decode_all(files, size, opts.channels or (3 if colour else 1))
    x = to_unit_range(pixels).permute(0, 3, 1, 2).contiguous()
    base = {"source": str(root)}
    npy = root / "embeddings.npy"
    if npy.is_file():
        try:
            emb = np.load(npy, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {npy} ({exc}); save a float array (N, E)") from None
        if emb.ndim != 2 or len(emb) != len(files) or not np.issubdtype(emb.dtype, np.number):
            raise DataError(
                f"{npy} has shape {emb.shape}; it needs one row per image ({len(files)}, E), "
                "in sorted file order"
            )
        text = torch.from_numpy(emb.astype(np.float32))
        return Dataset(x=x, y=None, kind="image", name="caption-folder", info=base,
                       fields={"text": text})  # fmt: skip
    captions = read_captions(root, files)
    pick = np.random.default_rng(DRAW_SEED)
    draws = [[c[0] for c in captions]] + [
        [c[int(pick.integers(len(c)))] for c in captions] for _ in range(CAPTIONS_PER_IMAGE - 1)
    ]
    every = [c for cs in captions for c in cs]
    vocab = _vocab(every)
    if not vocab:
        raise DataError(f"the captions in {root} have no words; write captions such as 'a red bag'")
    rng = np.random.default_rng(0)

    def epoch_captions(epoch: int):
        # one of each image's captions per epoch; no structure known: each caption matches
        # only its own image
        pick = [cs[int(rng.integers(len(cs)))] for cs in captions]
        ids = np.arange(1, len(files) + 1)[:, None]
        return pick, ids, ids

    probe_ds = Dataset(x=x, y=None, kind="image", name="caption-folder")
    spec = {"captions": every, "images": probe_ds.fingerprint()}
    encoder, record = _encoder("caption-folder", vocab, x, epoch_captions, spec)
    texts = _embed_draws(encoder, draws)
    return Dataset(
        x=x, y=None, kind="image", name="caption-folder",
        info={**base, "text_encoder": record_ref(record)},
        fields={"text": texts[:, 0].contiguous(), "texts": texts},
    )  # fmt: skip
