"""Fully connected generator and discriminator (Goodfellow et al. 2014 used such MLPs).

Trick options (all off by default, recorded in the network's spec so that `load_generator`
rebuilds the same network): virtual batch norm in G; PacGAN packing, minibatch
discrimination and spectral normalisation in D.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.nn.minibatch_disc import MinibatchDiscrimination
from gankit.nn.pack import pack as pack_samples
from gankit.nn.spectral import apply_spectral_norm
from gankit.nn.vbn import VirtualBatchNorm


def _mlp(sizes: list[int], act: nn.Module, vbn: int = 0) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += (
            [nn.Linear(a, b), VirtualBatchNorm(b, vbn), act] if vbn else [nn.Linear(a, b), act]
        )
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
        vbn: int = 0,  # reference batch size of virtual batch norm (Salimans et al. 2016); 0: off
    ):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        body = _mlp([z_dim] + [hidden] * layers, nn.ReLU(), vbn)
        self.net = nn.Sequential(*body, nn.Linear(hidden, math.prod(out_shape)))
        self.tanh = tanh
        self.vbn = vbn
        if vbn:  # the fixed reference batch, drawn by the variant (tricks.init_vbn_reference)
            self.register_buffer("vbn_ref_z", torch.zeros(vbn, z_dim))

    def forward(self, z: Tensor) -> Tensor:
        if self.vbn:  # reference rows first; see gankit.nn.vbn
            x = self.net(torch.cat([self.vbn_ref_z, z]))[self.vbn :]
        else:
            x = self.net(z)
        x = torch.tanh(x) if self.tanh else x
        return x.view(z.shape[0], *self.out_shape)


@NETWORKS.register("mlp_d")
class MLPDiscriminator(nn.Module):
    def __init__(
        self,
        in_shape: list[int],
        hidden: int = 128,
        layers: int = 3,
        pack: int = 1,  # PacGAN degree m: one decision per m samples (Lin et al. 2018)
        minibatch_disc: bool = False,  # Salimans et al. 2016, Sec. 3.2, before the output layer
        mbd_kernels: int = 50,  # B of minibatch discrimination
        mbd_dims: int = 5,  # C of minibatch discrimination
        spectral_norm: bool = False,  # Miyato et al. 2018
        sn_gain: float = 1.0,  # logits times K: a K-Lipschitz D (tricks.sn_gain)
        norm: str = "none",  # model.d_norm: this MLP has no normalisation layers to change
    ):
        super().__init__()
        if norm == "layer":
            raise ConfigError(
                "model.d_norm=layer applies to DCGAN discriminators; the MLP discriminator has "
                "no normalisation layers (gradient penalties need none): drop the key."
            )
        self.pack, self.gain = pack, sn_gain
        body = _mlp([pack * math.prod(in_shape)] + [hidden] * layers, nn.LeakyReLU(0.2))
        self.n_body = len(body)
        head: list[nn.Module] = [nn.Linear(hidden, 1)]
        if minibatch_disc:
            head = [
                MinibatchDiscrimination(hidden, mbd_kernels, mbd_dims),
                nn.Linear(hidden + mbd_kernels, 1),
            ]
        # one Sequential, so that the plain network keeps its original parameter names
        self.net = nn.Sequential(*body, *head)
        if spectral_norm:
            apply_spectral_norm(self.net)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer for already packed input (N/pack, pack*D) -> (N/pack, hidden):
        what feature matching compares (same contract as DCGANDiscriminator.features)."""
        return self.net[: self.n_body](x.flatten(1))

    def forward(self, x: Tensor) -> Tensor:
        logits = self.net(pack_samples(x.flatten(1), self.pack)).squeeze(1)  # (N / pack,)
        return logits * self.gain if self.gain != 1.0 else logits


@NETWORKS.register("mlp")
class MLP(nn.Module):
    """A plain map of vectors in_dim -> out_dim (an encoder E(x), a translator G_AB), with
    LeakyReLU hidden layers; a DCGAN-style choice that keeps gradients flowing both ways."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128, layers: int = 3):
        super().__init__()
        body = _mlp([in_dim] + [hidden] * layers, nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*body, nn.Linear(hidden, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


@NETWORKS.register("mlp_gauss")
class GaussianMLP(nn.Module):
    """A diagonal Gaussian q(z|x) = N(mu(x), diag(exp(logvar(x)))) of vectors in_dim ->
    out_dim: ALI's stochastic encoder (Dumoulin et al. 2016, Sec. 2-3). The body is
    :class:`MLP`'s; one linear head gives both moments."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.out_dim = out_dim
        body = _mlp([in_dim] + [hidden] * layers, nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*body, nn.Linear(hidden, 2 * out_dim))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar), each (N, out_dim)."""
        mu, logvar = self.net(x.flatten(1)).chunk(2, dim=1)
        return mu, logvar

    def mean(self, x: Tensor) -> Tensor:
        """The posterior mean mu(x): deterministic codes, what `gankit apply` writes."""
        return self(x)[0]
