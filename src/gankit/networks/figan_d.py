"""FIGAN's discriminator D(x, f): judges an image together with a continuous condition vector.

Mirza & Osindero 2014, Sec. 3.2 feed the condition to D as extra input; with a continuous f
(FIGAN's reduced CNN features, Hasenstab et al. 2023) that is ``concat``: f broadcast to k
constant feature maps beside the image channels. ``projection`` is Miyato & Koyama 2018,
Eq. (3), with the one-hot y replaced by f: D(x, f) = psi(phi(x)) + f^T W phi(x), W a learned
(k, feat) matrix; the inner product asks the image's features to agree with f.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.networks.base import NETWORKS
from gankit.networks.conditional import _split_base

MODES = ("projection", "concat")


@NETWORKS.register("figan_d")
class FeatureConditionalDiscriminator(nn.Module):
    def __init__(
        self,
        base: str,  # "dcgan_d" or "mlp_d"
        base_kwargs: dict[str, Any],  # its constructor arguments (image size, width, ...)
        cond_dim: int,  # k, the length of f
        mode: str = "projection",  # how D sees f: projection (Miyato Eq. 3) or concat
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}; valid: {', '.join(MODES)}")
        self.flat_input, self.mode, self.cond_dim = base == "mlp_d", mode, cond_dim
        extra_in = cond_dim if mode == "concat" else 0
        self.body, self.adv, feat = _split_base(base, base_kwargs, extra_in)
        self.proj = None
        if mode == "projection":
            self.proj = nn.Linear(cond_dim, feat, bias=False)  # W in f^T W phi(x)
            nn.init.normal_(self.proj.weight, 0.0, 0.02)  # the scale of D's DCGAN init

    def _input(self, x: Tensor, f: Tensor) -> Tensor:
        if self.flat_input:
            x = x.flatten(1)
        if self.mode != "concat":
            return x
        code = f.to(x.dtype)
        if x.ndim == 4:  # k constant maps beside the image channels
            code = code[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return torch.cat([x, code], 1)

    def forward(self, x: Tensor, f: Tensor) -> Tensor:
        """Adversarial logits (N,) of the pairs (x, f)."""
        h = self.body(self._input(x, f))
        logits = self.adv(h).reshape(len(x))
        if self.proj is not None:
            logits = logits + (self.proj(f.to(h.dtype)) * h.flatten(1)).sum(1)
        return logits

    def features(self, x: Tensor, f: Tensor) -> Tensor:
        """phi of the pair, D's body as a flat vector (N, feat), for feature matching."""
        return self.body(self._input(x, f)).flatten(1)
