"""FIGAN (Hasenstab et al. 2023): the classifier side, and walks through its feature space.

Step 1 of the paper is a trained CNN. gankit takes one of three (``options.classifier``):

* ``domain``: the cached domain classifier of the run's dataset (gankit.metrics.classifier);
* a ``.safetensors`` file written by ``gankit classifier train`` (the same DomainCNN, trained
  on any labelled dataset, e.g. your folder with one subfolder per class);
* a TorchScript file (``torch.jit.save``): images float32 (N, C, H, W) in [-1, 1] in; forward
  returns ``(logits, features)``, or the logits alone with ``options.feature_layer`` naming a
  submodule that maps the image to its features.

The classifier is frozen: it is traced to TorchScript once, and its features of the training
images are computed once; both are cached under ``$GANKIT_CACHE/figan/`` (the same classifier
then gives every run the same bytes, so seeded runs stay bitwise equal) and the bytes travel
in the run (gankit.networks.figan_features). Step 3, the walks, is :mod:`figan_walk` below.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gankit.errors import ConfigError, DataError
from gankit.metrics.classifier import (
    DOMAIN_DATASETS,
    DomainCNN,
    _fit,
    accuracy,
    cache_root,
    is_cached,
    load_classifier,
    train_classifier,
)
from gankit.networks import build_network
from gankit.networks.figan_features import FeatureMap, fit_pca
from gankit.runs import atomic_write_bytes

FILE_FORMAT = "gankit-classifier-1"
BATCH = 1000


def _trace(net: DomainCNN) -> bytes:
    net = net.cpu().eval().fused_for_inference()
    side = net.image_size
    traced = torch.jit.trace(net, torch.zeros(2, net.in_channels, side, side))
    buf = io.BytesIO()
    torch.jit.save(traced, buf)
    return buf.getvalue()


def _cached_bytes(key: str, make) -> bytes:
    """The classifier's TorchScript bytes from the cache, traced by ``make`` on a miss."""
    path = cache_root() / "figan" / "classifiers" / f"{key}.pt"
    if path.is_file():
        return path.read_bytes()
    data = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    return data


def read_classifier_file(path: Path) -> tuple[DomainCNN, dict[str, Any]]:
    """A DomainCNN and its metadata from a file ``gankit classifier train`` wrote."""
    try:
        raw = path.read_bytes()
        with open(path, "rb") as fh:  # the JSON header: 8 bytes of length, then the header
            size = int.from_bytes(fh.read(8), "little")
            meta = json.loads(fh.read(min(size, 1 << 20)))["__metadata__"]
        if meta.get("format") != FILE_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, not {FILE_FORMAT!r}")
        arch = json.loads(meta["arch"])
        net = DomainCNN(**arch)
        net.load_state_dict(st_load(raw))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        raise DataError(
            f"{path} is not a classifier written by `gankit classifier train` ({exc}); "
            "train one with that command or pass a TorchScript file."
        ) from None
    meta = {**meta, "arch": arch, "class_names": json.loads(meta.get("class_names", "null"))}
    return net.eval(), meta


def _check_channels(net: DomainCNN, data: Any, source: str) -> None:
    if net.in_channels != data.shape[0]:
        raise DataError(
            f"{source} takes {net.in_channels}-channel images, the data has {data.shape[0]}; "
            f"set data.channels={net.in_channels} or train the classifier with "
            f"--channels {data.shape[0]}."
        )


def classifier_source(source: str, data: Any, feature_layer: str) -> dict[str, Any]:
    """{"bytes", "order", "input_size", "id", "source", "class_names"} of ``options.classifier``."""
    if source == "domain":
        if data.name not in DOMAIN_DATASETS:
            raise ConfigError(
                f"options.classifier=domain needs one of {', '.join(DOMAIN_DATASETS)}; "
                f"data.name is {data.name!r}. Train one with `gankit classifier train --data "
                "folder --root DIR --out FILE` and set options.classifier=FILE."
            )
        if not is_cached(data.name):  # seconds for digits, a few CPU minutes for the others
            train_classifier(data.name, progress=False)
        net, info = load_classifier(data.name)
        _check_channels(net, data, f"the {data.name} domain classifier")
        key = info.content_hash
        return {
            "bytes": _cached_bytes(key, lambda: _trace(net)),
            "order": "features_logits",
            "input_size": net.image_size,
            "id": key,
            "source": f"the {data.name} domain classifier",
            "class_names": info.class_names,
        }
    path = Path(source).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"options.classifier={source!r} is neither 'domain' nor a file; pass a .safetensors "
            "from `gankit classifier train` or a TorchScript file."
        )
    if path.suffix == ".safetensors":
        net, meta = read_classifier_file(path)
        _check_channels(net, data, str(path))
        key = hashlib.sha256(path.read_bytes()).hexdigest()
        return {
            "bytes": _cached_bytes(key, lambda: _trace(net)),
            "order": "features_logits",
            "input_size": net.image_size,
            "id": key,
            "source": str(path),
            "class_names": meta["class_names"],
        }
    raw = path.read_bytes()
    try:
        torch.jit.load(io.BytesIO(raw))
    except Exception as exc:  # torch raises many kinds for a file that is not TorchScript
        raise DataError(f"{path} is not a TorchScript file ({type(exc).__name__}).") from None
    key = hashlib.sha256(raw + feature_layer.encode()).hexdigest()
    return {
        "bytes": raw,
        "order": "logits_features",
        "input_size": 0,
        "id": key,
        "source": str(path),
        "class_names": None,
    }


def _features(fm: FeatureMap, x: torch.Tensor, key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, features) of all of ``x``, cached under ``key`` (classifier and data)."""
    path = cache_root() / "figan" / "features" / f"{key}.safetensors"
    if path.is_file():
        try:
            t = st_load(path.read_bytes())
            return t["logits"], t["features"]
        except (SafetensorError, KeyError):
            pass  # damaged: computed again below and rewritten
    try:
        out = [fm.classify(x[s : s + BATCH]) for s in range(0, len(x), BATCH)]
    except RuntimeError as exc:  # a user's module that does not take these images
        why = str(exc).strip().splitlines()[-1][:200]
        raise DataError(
            f"the classifier {fm.source} fails on the data's images {tuple(x.shape[1:])} "
            f"({why}); give it images like the ones it was trained on (data.image_size, "
            "data.channels)."
        ) from None
    logits, feats = torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, st_save({"logits": logits.contiguous(), "features": feats}))
    return logits, feats


def build_feature_map(
    source: str, feature_layer: str, k: int, data: Any
) -> tuple[FeatureMap, torch.Tensor]:
    """The frozen FeatureMap of ``data``'s classifier with its PCA fitted on ``data``'s training
    images, and the whitened features f (N, k) of those images."""
    src = classifier_source(source, data, feature_layer)
    labelled = data.y is not None and bool(data.num_classes)
    names = list(data.class_names or []) if labelled else []
    K = int(data.num_classes) if labelled else 0
    probe_fm = FeatureMap(
        len(src["bytes"]),
        1,
        1,
        input_size=src["input_size"],
        order=src["order"],
        feature_layer=feature_layer,
        source=src["source"],
    )
    probe_fm.set_classifier(src["bytes"])
    key = hashlib.sha256(f"{src['id']}|{data.fingerprint()}".encode()).hexdigest()[:32]
    logits, feats = _features(probe_fm, data.x, key)
    if feats.shape[1] < k:
        raise ConfigError(
            f"options.k={k} exceeds the classifier's {feats.shape[1]} features; lower options.k."
        )
    if K and logits.shape[1] != K:
        raise DataError(
            f"{src['source']} has {logits.shape[1]} outputs but the data has {K} classes; "
            "use a classifier trained on the same classes."
        )
    fm = build_network(
        "figan_features",
        nbytes=len(src["bytes"]),
        feature_dim=int(feats.shape[1]),
        k=k,
        num_classes=K,
        input_size=src["input_size"],
        order=src["order"],
        feature_layer=feature_layer,
        class_names=names or None,
        source=src["source"],
    )
    fm.set_classifier(src["bytes"])
    fm.set_pca(*fit_pca(feats, k))
    f = fm.reduce(feats)
    if K:  # each class's mean reduced feature: the ends of `gankit explain --from / --to`
        fm.class_means = torch.stack(
            [f[data.y == c].mean(0) if (data.y == c).any() else torch.zeros(k) for c in range(K)]
        )
    return fm, f


def train_labelled_classifier(
    dataset: str,
    out: str,
    *,
    root: str | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    epochs: int = 10,
    width: int = 32,
    seed: int = 0,
    val_fraction: float = 0.1,
    progress: bool = True,
) -> dict[str, Any]:
    """`gankit classifier train`: gankit's DomainCNN on a labelled dataset (e.g. a folder with
    one subfolder per class), trained like the domain classifiers (gankit.metrics.classifier:
    Adam with cosine decay), measured on a seeded held-out ``val_fraction``, written to ``out``
    as safetensors with its architecture and class names in the header."""
    from gankit.data import load_dataset

    if epochs < 1 or width < 1 or not 0 < val_fraction < 1:
        raise ConfigError(
            f"--epochs and --width must be >= 1 and --val in (0, 1); got {epochs}, {width}, "
            f"{val_fraction}."
        )
    data = load_dataset(dataset, root=root, image_size=image_size, channels=channels)
    if data.kind != "image" or data.y is None or not data.num_classes:
        hint = " (one subfolder per class)" if dataset == "folder" else ""
        raise DataError(f"{dataset!r} has no labelled images{hint}; a classifier needs both.")
    c, h, w = data.shape
    if h != w or h < 4:
        raise DataError(f"images are {h}x{w}; the classifier needs square images of side >= 4.")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(len(data) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    if len(train) < 1:
        raise DataError(f"{len(data)} images are too few to hold out a validation split.")
    arch = {"in_channels": c, "num_classes": int(data.num_classes), "width": width, "image_size": h}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DomainCNN(**arch)
        _fit(net, data.x[train], data.y[train], epochs, 128, 2e-3, seed, progress, "classifier")
    acc = accuracy(net, data.x[val], data.y[val])
    names = list(data.class_names or [str(i) for i in range(arch["num_classes"])])
    meta = {
        "format": FILE_FORMAT,
        "arch": json.dumps(arch),
        "class_names": json.dumps(names),
        "dataset": dataset,
        "val_accuracy": f"{acc:.4f}",
        "epochs": str(epochs),
        "seed": str(seed),
        "n_train": str(len(train)),
        "n_val": str(n_val),
    }
    tensors = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    path = Path(out).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, st_save(tensors, metadata=meta))
    return {
        "out": str(path),
        "val_accuracy": acc,
        "n_train": len(train),
        "n_val": n_val,
        "classes": names,
    }
