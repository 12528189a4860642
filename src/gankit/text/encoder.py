"""The caption encoder phi(t), trained inside gankit and cached like the domain classifiers.

Objective: the joint embedding of Reed, Akata, Lee & Schiele 2016, "Learning Deep
Representations of Fine-Grained Visual Descriptions" (the phi(t) that GAN-INT-CLS conditions
on, Reed et al. 2016 Sec. 3.3): a text encoder phi and an image encoder theta (a small CNN,
trained jointly and then dropped) are scored by the compatibility F(v, t) = theta(v)^T phi(t),
and each side must pick its partner out of the minibatch (their Eq. 1-3, the two
misclassification losses, one classifying images by text and one texts by image). Here the 0-1
losses are relaxed to softmax cross-entropies over the minibatch at temperature ``TAU`` (a
symmetric contrastive loss), and "partners" are structured: caption i and image j match when
the caption's content agrees with the image (same class, and every attribute the caption
names is the image's), so that "a sneaker" is not pushed away from other sneakers' images.
Targets are uniform over the matching partners. Reed et al.'s own objective is class-level
(their Eq. 1-3 score a text against the images of its *class*); where the keys carry a class
(the built-in caption sets: key column 0), the same loss with the class alone as the partner
rule is added with weight ``CLASS_WEIGHT``. Without it the 64-d embedding of fashion-captions
was led by the attributes ("a large light t-shirt" had cosine 0.63 to "a large light shirt",
0.30 to "a t-shirt"; with weight 10, 0.43 and 0.98), and captions naming attributes pulled G
to other classes: GAN-INT-CLS's held-out-caption class accuracy (seed 0, 3000 steps) was 0.70
/ 0.79 / 0.88 with weight 1 / 3 / 10 (docs/benchmarks.md, "Text to image").

Cache: ``cache_root()/text-encoders/<dataset>/<key>.safetensors`` (weights of the text side)
and ``<key>.json`` (vocabulary, architecture, training record, sha256 of the weights and a
content hash), ``key`` a sha256 of everything the training depends on (the caption recipe,
the images' fingerprint, architecture, epochs, seed). The JSON is written last.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor, nn

from gankit.cache import cache_root
from gankit.errors import ConfigError, DataError
from gankit.networks import build_network
from gankit.networks.text_dcgan import TextEncoder
from gankit.text.typed import token_ids, tokenize

CACHE_FORMAT = "gankit-text-encoder-1"
TAU = 0.1  # softmax temperature of the matching loss on cosine similarities
CLASS_WEIGHT = 10.0  # the class-level term beside the content-level one (keys with a class)
ARCH = {"embed_dim": 32, "hidden": 128, "out_dim": 64}
TARGET_STEPS = 1200  # minibatch updates a training aims at: epochs = ceil(1200 / batches)
MAX_EPOCHS = 60

# One epoch's captions: (texts (N,), text keys (N, K), image keys (N, K)); key 0 in a text key
# is a wildcard (the caption does not say), so caption i matches image j when every key of i
# is 0 or equal to j's.
EpochCaptions = Callable[[int], tuple[list[str], np.ndarray, np.ndarray]]


def encoder_dir(dataset: str) -> Path:
    return cache_root() / "text-encoders" / dataset


class ImageSide(nn.Module):
    """theta(v): two stride-2 convs and a linear map to E, unit length (training only)."""

    def __init__(self, channels: int, side: int, out_dim: int, width: int = 32):
        super().__init__()
        s = (side + 1) // 2
        s = (s + 1) // 2
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * s * s, out_dim),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.net(x), dim=1)


def matching_loss(t: Tensor, v: Tensor, text_keys: Tensor, image_keys: Tensor) -> Tensor:
    """The objective above: t, v (B, E) unit vectors, keys (B, K) int64, column 0 the class
    when K > 1 (a single column is a partner id, as for users' folders: no class term)."""
    loss = structured_loss(t, v, text_keys, image_keys)
    if text_keys.shape[1] > 1 and CLASS_WEIGHT:
        loss = loss + CLASS_WEIGHT * structured_loss(t, v, text_keys[:, :1], image_keys[:, :1])
    return loss


def structured_loss(t: Tensor, v: Tensor, text_keys: Tensor, image_keys: Tensor) -> Tensor:
    """The symmetric structured loss above: t, v (B, E) unit vectors, keys (B, K) int64."""
    scores = t @ v.T / TAU  # (B texts, B images): F(v, t)
    match = ((text_keys[:, None] == 0) | (text_keys[:, None] == image_keys[None])).all(2).float()
    by_text = -(match / match.sum(1, keepdim=True) * F.log_softmax(scores, 1)).sum(1).mean()
    by_image = -(match / match.sum(0, keepdim=True) * F.log_softmax(scores, 0)).sum(0).mean()
    return 0.5 * (by_text + by_image)


def cache_key(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def train_encoder(
    vocab: list[str],
    x: Tensor,
    epoch_captions: EpochCaptions,
    epochs: int,
    seed: int = 0,
    batch_size: int = 256,
    lr: float = 2e-3,
    progress: bool = True,
    desc: str = "text encoder",
) -> TextEncoder:
    """Train phi (and a throw-away theta) on images ``x`` (N, C, H, W) in [-1, 1]."""
    from tqdm import tqdm

    with torch.random.fork_rng(devices=[]):  # the caller's global stream is left alone
        torch.manual_seed(seed)
        text = build_network("text_encoder", vocab=list(vocab), **ARCH)
        image = ImageSide(x.shape[1], x.shape[2], ARCH["out_dim"])
        params = [*text.parameters(), *image.parameters()]
        opt = torch.optim.Adam(params, lr=lr)
        per_epoch = math.ceil(len(x) / batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * per_epoch)
        order_rng = torch.Generator().manual_seed(seed)
        bar = tqdm(total=epochs * per_epoch, desc=desc, unit="step", file=sys.stderr,
                   disable=not progress, mininterval=0.5, dynamic_ncols=True)  # fmt: skip
        with bar:
            for epoch in range(epochs):  # captions redrawn every epoch
                texts, tkeys, ikeys = epoch_captions(epoch)
                ids = token_ids(text, [tokenize(s) for s in texts])
                tkeys, ikeys = torch.as_tensor(tkeys), torch.as_tensor(ikeys)
                order = torch.randperm(len(x), generator=order_rng)
                for s in range(0, len(x), batch_size):
                    idx = order[s : s + batch_size]
                    loss = matching_loss(text(ids[idx]), image(x[idx]), tkeys[idx], ikeys[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return text.eval().requires_grad_(False)


def default_epochs(n: int, batch_size: int = 256) -> int:
    return max(2, min(MAX_EPOCHS, math.ceil(TARGET_STEPS / math.ceil(n / batch_size))))


def cached_encoder(
    dataset: str,
    vocab: list[str],
    x: Tensor,
    epoch_captions: EpochCaptions,
    spec: dict[str, Any],
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    force: bool = False,
) -> tuple[TextEncoder, dict[str, Any]]:
    """The cached encoder for ``spec`` (what the captions and images are), trained and
    written on first use (or with ``force``); returns it with its JSON record."""
    epochs = default_epochs(len(x)) if epochs is None else epochs
    if epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {epochs}.")
    full = {"format": CACHE_FORMAT, "arch": ARCH, "vocab": vocab, "epochs": epochs,
            "seed": seed, "tau": TAU, "class_weight": CLASS_WEIGHT, **spec}  # fmt: skip
    key = cache_key(full)[:20]
    folder = encoder_dir(dataset)
    if not force and (folder / f"{key}.json").is_file():
        return load_cached(folder, key)
    if progress:
        print(f"gankit: training the {dataset} text encoder ({epochs} epochs, once; cached in "
              f"{folder}); `gankit text-encoder train` does it ahead", file=sys.stderr)  # fmt: skip
    start = time.process_time()
    net = train_encoder(vocab, x, epoch_captions, epochs, seed, progress=progress,
                        desc=f"text encoder {dataset}")  # fmt: skip
    data = st_save({k: v.contiguous() for k, v in net.state_dict().items()})
    record = {
        "format": CACHE_FORMAT, "dataset": dataset, "key": key, "vocab": vocab,
        "arch": ARCH, "epochs": epochs, "seed": seed, "n_train": len(x),
        "cpu_seconds": round(time.process_time() - start, 1),
        "weights_sha256": hashlib.sha256(data).hexdigest(), "spec_sha256": cache_key(full),
    }  # fmt: skip
    from gankit.runs import atomic_write_bytes  # late: runs imports the model side

    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / f"{key}.safetensors", data)
        atomic_write_bytes(folder / f"{key}.json", json.dumps(record, indent=2).encode())
    except OSError:
        pass  # an unwritable cache only costs the training next time
    return net, record


def load_cached(folder: Path, key: str) -> tuple[TextEncoder, dict[str, Any]]:
    """A cached encoder, checked against the sha256 its JSON records."""
    fix = f"delete {folder} or run `gankit text-encoder train --force`."
    try:
        record = json.loads((folder / f"{key}.json").read_text())
        data = (folder / f"{key}.safetensors").read_bytes()
        if hashlib.sha256(data).hexdigest() != record["weights_sha256"]:
            raise ValueError("the weights do not match their recorded sha256")
        net = build_network("text_encoder", vocab=record["vocab"], **record["arch"])
        net.load_state_dict(st_load(data))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise DataError(
            f"the cached text encoder {folder / key} is damaged ({exc}); {fix}"
        ) from None
    return net.eval().requires_grad_(False), record


_LOADED: dict[str, TextEncoder] = {}  # "dataset/key" -> encoder, for this process


def remember(record: dict[str, Any], net: TextEncoder) -> None:
    """Keep a just-trained or loaded encoder for :func:`dataset_encoder` (an unwritable cache
    must not lose it within the process)."""
    _LOADED[f"{record['dataset']}/{record['key']}"] = net


def dataset_encoder(data: Any) -> TextEncoder | None:
    """The TextEncoder behind a captioned dataset's ``text`` field (its ``info``'s
    ``text_encoder`` entry), or None when the embeddings were the user's own."""
    ref = data.info.get("text_encoder")
    if not ref:
        return None
    key = f"{ref['dataset']}/{ref['key']}"
    if key not in _LOADED:
        _LOADED[key] = load_cached(encoder_dir(ref["dataset"]), ref["key"])[0]
    return _LOADED[key]
