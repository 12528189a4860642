"""LAPGAN's networks: Denton, Chintala, Szlam & Fergus 2015, Sec. 3-4.

* The coarsest level K is a plain GAN on the smallest images; as in the paper (Sec. 4) its
  G_K and D_K are fully connected: ``lapgan_coarse_g`` / ``lapgan_coarse_d``.
* Each finer level k is a conditional GAN on the band-pass residual (Sec. 3.1):
  ``lapgan_level_g`` is G_k(z_k, l_k), a ReLU convnet that maps the upsampled coarser image
  l_k = u(I_{k+1}) and noise to a residual h~_k of the same shape; ``lapgan_level_d`` is D_k,
  a strided convnet judging the residual with l_k. The paper adds l_k to the residual before
  D's first layer, so D_k here takes the pair (l_k + h_k, l_k) stacked along channels.
* The noise of a finer level enters as an extra plane of the image size, as in Sec. 4 ("a 4th
  color plane"); here the plane is a learned linear map of a short noise vector, so that the
  exported sampler takes one z of fixed length (model.z_dim) whatever the image size.
* Class conditioning (the class-conditional CIFAR-10 model of Sec. 4): the one-hot label goes
  through a linear layer that makes one more plane at every convolutional level; the fully
  connected coarsest level takes the one-hot vector beside its input.
* ``lapgan`` (a composite of gankit.networks.composite): the whole sampler, coarse to fine,
  I~_K = G_K(z_K), I~_k = u(I~_{k+1}) + G_k(z_k, u(I~_{k+1})) (Sec. 3, Eq. 3), one exported
  model rebuilt from the trained G_k at load time.

Noise arguments are called ``noise_dim`` (not ``z_dim``): model.z_dim is the length of the
whole sampler's z, which the composite splits among the levels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.networks.composite import COMPOSITES
from gankit.nn.init import dcgan_init
from gankit.nn.pyramid import upsample
from gankit.nn.spectral import apply_spectral_norm


def _one_hot(y: Tensor | None, num_classes: int) -> Tensor | None:
    if not num_classes:
        return None
    if y is None:
        raise ValueError("this LAPGAN network is class-conditional: pass labels y")
    return F.one_hot(y, num_classes).float()


class _Planes(nn.Module):
    """A vector (N, d) -> one plane (N, 1, side, side) by a linear layer: how noise and labels
    join the image channels of a convolutional level."""

    def __init__(self, dim: int, side: int):
        super().__init__()
        self.side = side
        self.linear = nn.Linear(dim, side * side)

    def forward(self, v: Tensor) -> Tensor:
        return self.linear(v).view(len(v), 1, self.side, self.side)


def _norm(kind: str, channels: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(channels)]
    if kind == "layer":  # per sample over (C, H, W): what a gradient penalty needs
        return [nn.GroupNorm(1, channels)]
    if kind == "none":
        return []
    raise ConfigError(f"model.d_norm={kind!r}; valid: batch, layer, none.")


@NETWORKS.register("lapgan_coarse_g")
class CoarseGenerator(nn.Module):
    """G_K(z_K [, y]): fully connected, ReLU with batch norm, tanh output (N, C, s, s)."""

    def __init__(
        self,
        noise_dim: int,  # z_K
        out_shape: list[int],  # (C, s, s) of the coarsest level
        hidden: int = 512,
        layers: int = 2,  # hidden layers
        num_classes: int = 0,  # K of a class-conditional G_K; 0: unconditional
    ):
        super().__init__()
        self.noise_dim, self.num_classes, self.out_shape = noise_dim, num_classes, tuple(out_shape)
        dims = [noise_dim + num_classes] + [hidden] * layers
        body: list[nn.Module] = []
        for a, b in zip(dims, dims[1:]):
            body += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU(True)]
        self.net = nn.Sequential(*body, nn.Linear(dims[-1], math.prod(out_shape)), nn.Tanh())
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        code = _one_hot(y, self.num_classes)
        h = z if code is None else torch.cat([z, code], 1)
        return self.net(h).view(len(z), *self.out_shape)


@NETWORKS.register("lapgan_coarse_d")
class CoarseDiscriminator(nn.Module):
    """D_K(I_K [, y]): fully connected, LeakyReLU(0.2), one logit per image."""

    def __init__(
        self,
        in_shape: list[int],  # (C, s, s)
        hidden: int = 512,
        layers: int = 2,
        num_classes: int = 0,
        spectral_norm: bool = False,  # Miyato et al. 2018, on every weight
    ):
        super().__init__()
        self.num_classes = num_classes
        dims = [math.prod(in_shape) + num_classes] + [hidden] * layers
        body: list[nn.Module] = []
        for a, b in zip(dims, dims[1:]):
            body += [nn.Linear(a, b), nn.LeakyReLU(0.2, True)]
        self.net = nn.Sequential(*body, nn.Linear(dims[-1], 1))
        dcgan_init(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        code = _one_hot(y, self.num_classes)
        h = x.flatten(1) if code is None else torch.cat([x.flatten(1), code], 1)
        return self.net(h).view(len(x))


@NETWORKS.register("lapgan_level_g")
class LevelGenerator(nn.Module):
    """G_k(z_k, l_k [, y]) -> h~_k: l_k (N, C, s, s) with a noise plane (and a label plane)
    through ``layers`` 3x3 convs (batch norm, ReLU) and a last linear 3x3 conv to C channels.
    No output squashing: a residual spans [-2, 2]; the sampler clamps l_k + h~_k instead."""

    def __init__(
        self,
        noise_dim: int,  # z_k
        channels: int,  # C
        side: int,  # s, the level's image side
        width: int = 64,  # feature maps of the hidden convs
        layers: int = 3,  # hidden conv layers
        num_classes: int = 0,
    ):
        super().__init__()
        self.noise_dim, self.num_classes, self.side = noise_dim, num_classes, side
        self.noise = _Planes(noise_dim, side)
        self.label = _Planes(num_classes, side) if num_classes else None
        c = channels + 1 + (1 if num_classes else 0)
        body: list[nn.Module] = []
        for _ in range(layers):
            body += [nn.Conv2d(c, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
            c = width
        self.net = nn.Sequential(*body, nn.Conv2d(c, channels, 3, 1, 1))
        dcgan_init(self)

    def forward(self, z: Tensor, low: Tensor, y: Tensor | None = None) -> Tensor:
        planes = [low, self.noise(z)]
        code = _one_hot(y, self.num_classes)
        if code is not None:
            planes.append(self.label(code))
        return self.net(torch.cat(planes, 1))  # (N, C + 1 [+ 1], s, s) -> (N, C, s, s)


@NETWORKS.register("lapgan_level_d")
class LevelDiscriminator(nn.Module):
    """D_k(l_k + h_k, l_k [, y]): the pair (2C channels, and a label plane) through
    ``layers`` 4x4 stride-2 convs with LeakyReLU(0.2), then a linear layer to one logit."""

    def __init__(
        self,
        channels: int,  # C of one image; the input has 2C
        side: int,
        width: int = 64,
        layers: int = 2,  # stride-2 convs: 28 -> 14 -> 7
        num_classes: int = 0,
        spectral_norm: bool = False,
        norm: str = "batch",  # hidden convs after the first: batch, layer or none
    ):
        super().__init__()
        self.num_classes = num_classes
        self.label = _Planes(num_classes, side) if num_classes else None
        c, s = 2 * channels + (1 if num_classes else 0), side
        body: list[nn.Module] = []
        for i in range(layers):
            body.append(nn.Conv2d(c, width * 2**i, 4, 2, 1, bias=i == 0 or norm == "none"))
            body += ([] if i == 0 else _norm(norm, width * 2**i)) + [nn.LeakyReLU(0.2, True)]
            c, s = width * 2**i, (s + 2 - 4) // 2 + 1
        if s < 1:
            raise ConfigError(f"{layers} stride-2 layers shrink a {side} px level to nothing.")
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(c * s * s, 1)
        dcgan_init(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, pair: Tensor, y: Tensor | None = None) -> Tensor:
        code = _one_hot(y, self.num_classes)
        if code is not None:
            pair = torch.cat([pair, self.label(code)], 1)
        return self.head(self.body(pair).flatten(1)).view(len(pair))


class LaplacianSampler(nn.Module):
    """The whole LAPGAN sampler (Sec. 3, Eq. 3), coarse to fine.

    Parts ``level0`` (finest) ... ``levelK`` (coarsest, G_K); z is [z_K, z_{K-1}, ..., z_0],
    split by each part's ``noise_dim``. Every level's image is clamped to [-1, 1], the range
    of the real images that conditioned G_k in training."""

    def __init__(self, **parts: nn.Module):
        super().__init__()
        order = sorted(parts, key=lambda role: int(role.removeprefix("level")))
        self.levels = nn.ModuleList([parts[role] for role in order])  # finest first

    @property
    def z_dim(self) -> int:
        return sum(g.noise_dim for g in self.levels)

    def split(self, z: Tensor) -> list[Tensor]:
        """[z_0, ..., z_K] (finest first) of a z laid out [z_K, ..., z_0]."""
        dims = [g.noise_dim for g in reversed(self.levels)]
        return list(reversed(z.split(dims, 1)))

    def stages(self, z: Tensor, y: Tensor | None = None) -> list[dict[str, Tensor]]:
        """Per level, coarsest first: {"image": I~_k} and for finer levels also "low" (l_k =
        u(I~_{k+1})) and "residual" (h~_k), for pictures and tests."""
        zs = self.split(z)
        image = self.levels[-1](zs[-1], y)
        out = [{"image": image}]
        for k in range(len(self.levels) - 2, -1, -1):
            low = upsample(image)
            residual = self.levels[k](zs[k], low, y)
            image = (low + residual).clamp(-1, 1)
            out.append({"image": image, "low": low, "residual": residual})
        return out

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.stages(z, y)[-1]["image"]  # (N, C, H, W) at the finest level


COMPOSITES.register("lapgan")(LaplacianSampler)
