"""FIGAN's frozen feature map: a classifier's penultimate features, reduced by PCA.

Hasenstab et al. 2023, "Feature Interpretation Using Generative Adversarial Networks (FIGAN)",
Sec. II: a CNN is trained first; its learned features of each training image then condition a
GAN. Here the features are the classifier's penultimate layer, centred and projected on their
first k principal components (Pearson 1901; fitted once on the training features, by SVD) and
divided by the component's standard deviation (whitened), so each of the k condition values
has unit variance: ``f = (phi(x) - mu) V_k^T / sigma_k``.

The classifier travels inside the run as TorchScript bytes (a uint8 buffer), so a run directory
alone reproduces its features and probabilities, without gankit's cache or the user's file.
The convention (docs/figan.md): the module takes images float32 (N, C, H, W) in [-1, 1] and
``forward`` returns ``(logits, features)`` (``order="features_logits"`` for gankit's DomainCNN,
which returns them the other way round); or, with ``feature_layer`` naming a submodule that
maps the image to the features, ``forward`` returns the logits alone.
"""

from __future__ import annotations

import io
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import DataError
from gankit.networks.base import NETWORKS

ORDERS = ("logits_features", "features_logits")


def fit_pca(features: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """(mean (F,), components (k, F), standard deviations (k,)) of ``features`` (N, F): the top
    k right singular vectors of the centred matrix, each signed so that its largest entry is
    positive (SVD's signs are arbitrary; this makes the directions reproducible)."""
    x = features.double()
    mean = x.mean(0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    comp = vh[:k]
    sign = torch.sign(comp.gather(1, comp.abs().argmax(1, keepdim=True)))
    std = s[:k] / max(1, len(x) - 1) ** 0.5
    return mean.float(), (comp * sign).float(), std.clamp_min(1e-8).float()


@NETWORKS.register("figan_features")
class FeatureMap(nn.Module):
    def __init__(
        self,
        nbytes: int,  # size of the classifier's TorchScript file
        feature_dim: int,  # F, the width of its features
        k: int,  # reduced dimensions
        num_classes: int = 0,  # K; 0 where the data had no labels (no class means)
        input_size: int = 0,  # the side the classifier takes (images are resized); 0: as given
        order: str = "logits_features",  # what forward returns, see the module docstring
        feature_layer: str = "",  # a submodule mapping the image to the features
        class_names: list[str] | None = None,
        source: str = "",  # where the classifier came from, for messages
    ):
        super().__init__()
        if order not in ORDERS:
            raise ValueError(f"order {order!r}; valid: {', '.join(ORDERS)}")
        self.k, self.feature_dim, self.num_classes = k, feature_dim, num_classes
        self.input_size, self.order, self.feature_layer = input_size, order, feature_layer
        self.class_names = list(class_names or [str(i) for i in range(num_classes)])
        self.source = source
        self.register_buffer("blob", torch.zeros(nbytes, dtype=torch.uint8))
        self.register_buffer("mean", torch.zeros(feature_dim))
        self.register_buffer("components", torch.zeros(k, feature_dim))
        # a parameter (never trained: no phase names this network) so that code asking a
        # model for its device, next(net.parameters()).device, finds one
        self.std = nn.Parameter(torch.ones(k), requires_grad=False)
        self.register_buffer("class_means", torch.zeros(num_classes, k))  # whitened units
        self._script: Any = None

    # --- the classifier -----------------------------------------------------------------------
    def _load_from_state_dict(self, *args: Any, **kw: Any) -> None:
        self._script = None  # new bytes: deserialise again on the next call
        super()._load_from_state_dict(*args, **kw)

    def set_classifier(self, data: bytes) -> None:
        self.blob = torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()
        self._script = None

    def classifier(self) -> Any:
        if self._script is None:
            buf = io.BytesIO(self.blob.cpu().numpy().tobytes())
            self._script = torch.jit.load(buf, map_location=self.blob.device).eval()
        return self._script

    def _fit_input(self, x: Tensor) -> Tensor:
        if self.input_size and x.shape[-1] != self.input_size:
            # the classifier's own side: bilinear, as gankit's extractors resize
            size = (self.input_size, self.input_size)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x

    @torch.no_grad()
    def classify(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(logits (N, K), penultimate features (N, F)) of images ``x`` in [-1, 1]."""
        net, x = self.classifier(), self._fit_input(x.float())
        if self.feature_layer:
            layer = net
            for part in self.feature_layer.split("."):
                layer = getattr(layer, part)
            logits, feats = net(x), layer(x)
        else:
            out = net(x)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise DataError(
                    f"the classifier {self.source} does not return (logits, features); "
                    "export it so that forward returns that pair, or set options.feature_layer."
                )
            logits, feats = out if self.order == "logits_features" else out[::-1]
        return logits.float(), feats.flatten(1).float()

    # --- the PCA --------------------------------------------------------------------------------
    @torch.no_grad()
    def set_pca(self, mean: Tensor, components: Tensor, std: Tensor) -> None:
        self.mean.copy_(mean)
        self.components.copy_(components)
        self.std.copy_(std)

    def reduce(self, feats: Tensor) -> Tensor:
        """f = (phi - mu) V_k^T / sigma_k: (N, F) -> (N, k), whitened PCA coordinates."""
        return (feats - self.mean) @ self.components.T / self.std

    def expand(self, f: Tensor) -> Tensor:
        """The features f stands for: mu + (f * sigma_k) V_k, (N, k) -> (N, F)."""
        return self.mean + (f * self.std) @ self.components

    def forward(self, x: Tensor) -> Tensor:
        """The condition f of images ``x``: (N, C, H, W) -> (N, k)."""
        return self.reduce(self.classify(x)[1])

    def probabilities(self, x: Tensor) -> Tensor:
        """The classifier's softmax (N, K) for images ``x``."""
        return self.classify(x)[0].softmax(1)
