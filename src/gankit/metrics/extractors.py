"""Feature extractors: images (or vectors) in, (N, D) features and optional class
probabilities out, streamed in batches.

``EXTRACTORS`` maps a name to a factory taking the text after ``name:`` in a spec:

==========================  ==============================================================
``domain:<dataset>``        the cached domain classifier of digits / mnist / fashion-mnist
                            (:mod:`gankit.metrics.classifier`): 4*width pooled features,
                            softmax over the dataset's classes
``inception[:WEIGHTS]``     InceptionV3 pool features (2048) and softmax over its 1008
                            logits (:mod:`gankit.metrics.inception`), from a weights file
``raw``                     the data itself (2-D toy coordinates, flattened pixels)
``module``                  any ``nn.Module`` passed from Python (:class:`ModuleExtractor`)
==========================  ==============================================================

Images may be uint8 (N, C, H, W) on 0..255 (the ``gankit sample`` layout) or float in
[-1, 1]; both map to the same float input, so a sample array and the generator it came from
give the same features up to the uint8 rounding.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from gankit.data.images import resize_square, to_channels, to_unit_range
from gankit.errors import ConfigError, DataError
from gankit.metrics.inception import INPUT_SIZE, default_weights, load_inception
from gankit.registry import Registry

#: Float images may overshoot [-1, 1] by this much (generator round-off) before it is an error.
RANGE_TOLERANCE = 1e-3
DEFAULT_BATCH = 250


@dataclass
class Features:
    """Extracted features (N, D) float32 and, for classifier extractors, probabilities (N, K)."""

    features: Tensor
    probs: Tensor | None = None

    @property
    def predicted(self) -> Tensor | None:
        return None if self.probs is None else self.probs.argmax(dim=1)


def as_float_input(batch: Tensor | np.ndarray, image: bool) -> Tensor:
    """uint8 pixels -> [-1, 1]; float data checked (finite; images within [-1, 1]) -> float32."""
    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(np.ascontiguousarray(batch))
    if batch.dtype == torch.uint8:
        return to_unit_range(batch)
    if not batch.is_floating_point():
        raise DataError(
            f"input has dtype {batch.dtype}; give uint8 images (0..255) or float32 in [-1, 1]"
        )
    x = batch.detach().to("cpu", torch.float32)
    if not bool(torch.isfinite(x).all()):
        raise DataError("input contains NaN or infinite values")
    if image and x.numel():
        if x.abs().max() > 1 + RANGE_TOLERANCE:
            raise DataError(
                f"float images must be in [-1, 1], got values in [{x.min():.3g}, "
                f"{x.max():.3g}]; pass uint8 0..255 or scale with x / 127.5 - 1"
            )
        x = x.clamp(-1.0, 1.0)
    return x


class FeatureExtractor:
    """Base class. Subclasses set the attributes below and implement :meth:`forward`.

    ``cache_id`` names the exact network (weights included): it is part of the key of cached
    reference statistics, so retrained weights never reuse stale statistics.
    """

    name = "base"
    cache_id = "base"
    kind = "image"  # "image" or "vector": what the extractor accepts
    channels: int | None = None  # channels the network wants; 1 <-> 3 are converted
    input_size: int | None = None  # square side the network wants; other sizes are resized
    has_probs: bool | None = None  # gives class probabilities (None: unknown until it runs)
    device = torch.device("cpu")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """(features (B, D), logits (B, K) or None) for a prepared batch on ``self.device``."""
        raise NotImplementedError

    # --- input checks and preparation -------------------------------------------------------
    def check_input(self, x: Tensor | np.ndarray) -> None:
        """Shape checks on the whole input before any batch is processed."""
        if self.kind == "vector":
            if x.ndim != 2:
                raise DataError(
                    f"extractor {self.name!r} takes vectors (N, D); got shape {tuple(x.shape)}"
                )
            return
        if x.ndim != 4:
            raise DataError(
                f"extractor {self.name!r} takes images (N, C, H, W); got shape {tuple(x.shape)}"
                + ("; vector data needs --extractor raw" if x.ndim == 2 else "")
            )
        c, h, w = x.shape[1:]
        if self.input_size is not None and h != w:
            raise DataError(
                f"images are {h}x{w}; extractor {self.name!r} needs square images "
                "(resize them, e.g. data.image_size=N)"
            )
        if self.channels is not None and c not in (1, 3):
            raise DataError(
                f"images have {c} channels; extractor {self.name!r} takes 1 (grey) or 3 (RGB)"
            )

    def prepare(self, batch: Tensor | np.ndarray) -> Tensor:
        """A raw batch -> float32 on the device, with the channels and size the network
        wants (images in [-1, 1])."""
        x = as_float_input(batch, image=self.kind == "image")
        if self.kind == "image":
            if self.channels is not None:
                x = to_channels(x, self.channels)
            if self.input_size is not None and x.shape[-1] != self.input_size:
                x = resize_square(x, self.input_size)
        return x.to(self.device)

    # --- extraction ----------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, x: Tensor | np.ndarray, batch_size: int = DEFAULT_BATCH) -> Features:
        """Features of all of ``x``, ``batch_size`` items at a time (a network in eval mode
        treats each item alone, so the result does not depend on ``batch_size``)."""
        if batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {batch_size}")
        self.check_input(x)
        feats, probs = [], []
        for s in range(0, x.shape[0], batch_size):
            f, logits = self.forward(self.prepare(x[s : s + batch_size]))
            feats.append(f.reshape(f.shape[0], -1).float().cpu())
            if logits is not None:
                probs.append(torch.softmax(logits.float(), dim=1).cpu())
        if not feats:
            raise DataError("no images to extract features from (empty input)")
        return Features(torch.cat(feats), torch.cat(probs) if probs else None)


class RawExtractor(FeatureExtractor):
    """The data as its own features: 2-D toy points, or flattened pixels in [-1, 1]."""

    name = cache_id = "raw"
    kind = "vector"
    has_probs = False

    def check_input(self, x: Tensor | np.ndarray) -> None:
        if x.ndim < 2:
            raise DataError(f"raw features need (N, D) or (N, C, H, W) data, got {x.shape}")

    def prepare(self, batch: Tensor | np.ndarray) -> Tensor:
        # Pixels are scaled exactly as for the image extractors, then flattened.
        x = as_float_input(batch, image=batch.ndim == 4)
        return x.reshape(x.shape[0], -1).to(self.device)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        return x, None


class ModuleExtractor(FeatureExtractor):
    """Any ``nn.Module``: its output is the features, or a (features, logits) pair whose
    logits give class probabilities by softmax.

    ``channels`` / ``input_size`` declare what the module wants (inputs are converted and
    resized to them); ``name`` fixes the cache id, which otherwise hashes the weights.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        name: str | None = None,
        channels: int | None = None,
        input_size: int | None = None,
        kind: str = "image",
        device: str | torch.device | None = None,
        channels_last: bool = False,
    ):
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"a module extractor needs a torch.nn.Module, got {type(module).__name__}"
            )
        if kind not in ("image", "vector"):
            raise ConfigError(f"kind must be 'image' or 'vector', got {kind!r}")
        if device is not None:
            module = module.to(device)
        self.module = module.eval()
        self.kind, self.channels, self.input_size = kind, channels, input_size
        # NHWC layout: oneDNN's fastest convolutions on CPU (about 1.7x here for the domain CNN).
        self.channels_last = channels_last
        if channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)
        params = list(module.parameters()) + list(module.buffers())
        self.device = params[0].device if params else torch.device(device or "cpu")
        self.name = f"module:{name or type(module).__name__}"
        self.cache_id = f"module:{name}" if name else f"module:{_weights_digest(module)}"

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        out = self.module(x)
        if isinstance(out, (tuple, list)):
            if len(out) != 2:
                raise DataError(
                    f"{self.name} returned {len(out)} outputs; return features or "
                    "(features, logits)"
                )
            return out[0], out[1]
        return out, None


def _weights_digest(module: nn.Module) -> str:
    """sha256 (first 16 hex) of the module's class name and its state dict's bytes."""
    digest = hashlib.sha256(type(module).__name__.encode())
    for key, value in sorted(module.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class DomainExtractor(ModuleExtractor):
    """The cached domain classifier of a dataset (penultimate features, softmax)."""

    def __init__(self, dataset: str, device: str | torch.device = "cpu"):
        from gankit.metrics.classifier import load_classifier

        net, info = load_classifier(dataset, device)
        super().__init__(
            net.fused_for_inference(),
            channels=net.in_channels,
            input_size=net.image_size,
            device=device,
            channels_last=True,
        )
        self.info = info
        self.name = f"domain:{dataset}"
        self.cache_id = f"domain:{dataset}@{info.content_hash[:16]}"
        self.has_probs = True
        self.num_classes = net.num_classes


# name -> factory(argument after "name:", device) -> FeatureExtractor
EXTRACTORS: Registry[Callable[[str, str | torch.device], FeatureExtractor]] = Registry("extractor")


@EXTRACTORS.register("domain")
def _domain(arg: str, device: str | torch.device) -> FeatureExtractor:
    if not arg:
        raise ConfigError("give the dataset of the domain classifier, e.g. domain:fashion-mnist")
    return DomainExtractor(arg, device)


@EXTRACTORS.register("inception")
def _inception(arg: str, device: str | torch.device) -> FeatureExtractor:
    return inception_extractor(arg or default_weights(), device=device)


def inception_extractor(
    weights: str | os.PathLike,
    *,
    sha256: str | None = None,
    input_size: int = INPUT_SIZE,
    device: str | torch.device = "cpu",
) -> ModuleExtractor:
    """The ``inception`` extractor (:mod:`gankit.metrics.inception`): 3-channel input (grey is
    repeated), resized to ``input_size``; its cache id is the weights' sha256 and the input
    size."""
    net = load_inception(weights, sha256, input_size)
    ex = ModuleExtractor(net, channels=3, input_size=input_size, device=device)
    ex.name = "inception"
    ex.has_probs = True  # softmax over the 1008 logits, for the Inception Score
    ex.cache_id = f"inception@{net.weights_sha256[:16]}@{input_size}"
    return ex


@EXTRACTORS.register("raw")
def _raw(arg: str, device: str | torch.device) -> FeatureExtractor:
    if arg:
        raise ConfigError(f"extractor 'raw' takes no argument, got 'raw:{arg}'")
    ex = RawExtractor()
    ex.device = torch.device(device)
    return ex


@EXTRACTORS.register("module")
def _module(arg: str, device: str | torch.device) -> FeatureExtractor:
    raise ConfigError(
        "the 'module' extractor wraps an nn.Module: pass the module itself from "
        "Python, e.g. gankit.metrics.evaluate(..., extractor=my_net)"
    )


def build_extractor(
    spec: str | nn.Module | FeatureExtractor, device: str | torch.device = "cpu"
) -> FeatureExtractor:
    """An extractor from a spec ``name[:argument]``, an ``nn.Module`` or an extractor."""
    if isinstance(spec, FeatureExtractor):
        return spec
    if isinstance(spec, nn.Module):
        return ModuleExtractor(spec, device=device)
    name, _, arg = str(spec).partition(":")
    return EXTRACTORS.get(name)(arg, device)
