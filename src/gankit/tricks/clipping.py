"""WGAN weight clipping and feature matching: two small loss-side helpers."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def weight_clipper(module: nn.Module, c: float) -> Callable[[], None]:
    """After each critic update, clamp every weight to [-c, c] (Arjovsky et al. 2017, Alg. 1,
    line 7): a crude way to keep the critic K-Lipschitz."""
    params = list(module.parameters())

    @torch.no_grad()
    def clip() -> None:
        for p in params:
            p.clamp_(-c, c)

    return clip


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """||E_x f(x) - E_z f(G(z))||_2^2 over an intermediate layer f of D (Salimans et al. 2016,
    Sec. 3.1); D's features of real data are a fixed target for G."""
    return (real_features.detach().mean(0) - fake_features.mean(0)).pow(2).sum()
