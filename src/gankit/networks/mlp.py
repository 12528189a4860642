"""Fully connected generator and discriminator (Goodfellow et al. 2014 used such MLPs)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.networks.base import NETWORKS


def _mlp(sizes: list[int], act: nn.Module) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act]
    return layers


@NETWORKS.register("mlp_g")
class MLPGenerator(nn.Module):
    def __init__(
        self,
        z_dim: int,
        out_shape: list[int],  # (D,) for vectors, (C, H, W) for images
        hidden: int = 128,
        layers: int = 3,  # number of hidden layers
        tanh: bool = False,  # squash to [-1, 1]: right for images scaled there, wrong for toys
    ):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        body = _mlp([z_dim] + [hidden] * layers, nn.ReLU())
        self.net = nn.Sequential(*body, nn.Linear(hidden, math.prod(out_shape)))
        self.tanh = tanh

    def forward(self, z: Tensor) -> Tensor:
        x = self.net(z)
        x = torch.tanh(x) if self.tanh else x
        return x.view(z.shape[0], *self.out_shape)


@NETWORKS.register("mlp_d")
class MLPDiscriminator(nn.Module):
    def __init__(self, in_shape: list[int], hidden: int = 128, layers: int = 3):
        super().__init__()
        body = _mlp([math.prod(in_shape)] + [hidden] * layers, nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*body, nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)  # (N,) logits
