"""The in-memory :class:`Dataset` every loader returns, and the registry of loaders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gankit.registry import Registry

SPLITS = ("train", "test", "all")
KINDS = ("image", "vector")


@dataclass
class Dataset:
    """A whole dataset held as tensors, so training can batch with ``index_select``.

    ``x`` is float32: images (N, C, H, W) in [-1, 1], vectors (N, D). ``y`` is int64 (N,)
    class labels or None. ``info`` holds JSON-serialisable extras (toy mixture centres and
    std, the source path of file-based sets).

    Beyond ``x`` and ``y`` a dataset may carry more named fields (DESIGN: "every dataset
    exposes named fields"): ``fields`` are aligned with ``x`` item by item (a paired target
    ``b``, a ``mask``, a ``text`` embedding) and batched with it; ``unpaired`` fields have
    their own length and are sampled independently of ``x`` (CycleGAN's second domain).
    ``aliases`` give ``x`` (or another field) a second name, e.g. ``{"a": "x"}`` for domain A.
    """

    x: torch.Tensor
    y: torch.Tensor | None
    kind: str
    name: str
    class_names: list[str] | None = None
    info: dict = field(default_factory=dict)
    fields: dict[str, torch.Tensor] = field(default_factory=dict)
    unpaired: dict[str, torch.Tensor] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # These are programming errors inside gankit, not user mistakes, hence ValueError.
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.x.dtype != torch.float32:
            raise ValueError(f"x must be float32, got {self.x.dtype}")
        want_ndim = 4 if self.kind == "image" else 2
        if self.x.ndim != want_ndim:
            raise ValueError(f"{self.kind} x must have {want_ndim} dims, got {tuple(self.x.shape)}")
        if self.y is not None and (self.y.dtype != torch.int64 or self.y.shape != self.x.shape[:1]):
            raise ValueError(
                f"y must be int64 of shape ({len(self)},), got {self.y.dtype} {tuple(self.y.shape)}"
            )
        for name, tensor in self.fields.items():
            if tensor.shape[:1] != self.x.shape[:1]:
                raise ValueError(f"field {name!r} has {len(tensor)} items, x has {len(self)}")
        taken = {"x", "y", *self.fields, *self.unpaired}
        for alias, target in self.aliases.items():
            if alias in taken or target not in taken:
                raise ValueError(f"alias {alias!r} -> {target!r} clashes or points nowhere")

    @property
    def field_names(self) -> list[str]:
        """Every name a batch of this dataset has (x, y where labelled, the rest, aliases)."""
        names = ["x"] + (["y"] if self.y is not None else [])
        return names + [*self.fields, *self.unpaired, *self.aliases]

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one item: (C, H, W) for images, (D,) for vectors."""
        return tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int | None:
        if self.y is None:
            return None
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.y.max()) + 1 if len(self.y) else 0

    def fingerprint(self) -> str:
        """sha256 hex of name, kind, shapes and the raw bytes of x and y; a stable cache key."""
        digest = hashlib.sha256()
        header = {
            "name": self.name,
            "kind": self.kind,
            "x": [str(self.x.dtype), list(self.x.shape)],
            "y": None if self.y is None else [str(self.y.dtype), list(self.y.shape)],
        }
        extra = {**self.fields, **{f"unpaired.{k}": v for k, v in self.unpaired.items()}}
        if extra:  # only then, so that datasets of x and y keep their earlier fingerprints
            header["fields"] = {k: [str(v.dtype), list(v.shape)] for k, v in sorted(extra.items())}
        digest.update(json.dumps(header, sort_keys=True).encode())
        for tensor in (self.x, self.y, *(extra[k] for k in sorted(extra))):
            if tensor is not None:
                digest.update(_raw_bytes(tensor))
        return digest.hexdigest()


def _raw_bytes(tensor: torch.Tensor) -> memoryview:
    """A zero-copy byte view of a CPU tensor (a copy only if it is not contiguous)."""
    array = tensor.detach().cpu().contiguous().numpy()
    return memoryview(array.reshape(-1).view(np.uint8))


@dataclass(frozen=True)
class LoadOptions:
    """The arguments of :func:`gankit.data.load_dataset`, as handed to each registered loader."""

    name: str
    root: Path | None = None
    split: str = "train"
    image_size: int | None = None
    channels: int | None = None
    n_samples: int = 20000
    seed: int = 0
    download: bool = False


Loader = Callable[[LoadOptions], Dataset]

# name -> loader(options) -> Dataset; loaders register themselves when gankit.data is imported.
DATASETS: Registry[Loader] = Registry("dataset")
