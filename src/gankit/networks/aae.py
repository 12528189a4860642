"""The adversarial autoencoder's networks (Makhzani et al. 2015, "Adversarial Autoencoders").

The paper's permutation-invariant MNIST models are MLPs: encoder q(z|x) and decoder p(x|z)
with two hidden layers of 1000 ReLU units each (Appendix A.1 / Sec. 2.3); here the width and
depth are constructor arguments (the presets pick narrower ones for CPU budgets).

* :class:`AAEEncoder`, deterministic q(z|x) (the paper's main choice, Sec. 2 "Deterministic"):
  a style code z and, for the clustering and semi-supervised modes (Sec. 5-6), a second head
  of K logits whose softmax is q(y|x). ``forward`` gives the whole code the decoder takes:
  z, or [softmax(y), z].
* With ``conv_width`` > 0 (images only; not the paper's networks, an option of gankit's) the
  encoder's body is the DCGAN discriminator's strided-conv trunk followed by one ReLU layer
  of ``hidden`` units, and the decoder is the DCGAN generator (gankit.networks.dcgan) fed
  the whole code: the same game with convolutional networks, as BiGAN and ALI use on images.
* :class:`AAEDecoder`: p(x|code) for that whole code. Its ``forward(z, c)`` also takes the
  sampler's inputs, so that ``gankit sample`` draws from the prior the run was regularised
  to: for the categorical mode c is the one-hot cluster y (code = [y, z]); for the mixture
  prior c is the one-hot component k and z ~ N(0, I_2) is placed by
  :func:`mixture_params` (code = m_k + A_k z). ``--code 0=K`` then picks a cluster or a
  component.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.networks.base import NETWORKS
from gankit.networks.dcgan import DCGANGenerator, dcgan_levels
from gankit.networks.encoders import conv_trunk
from gankit.nn.init import dcgan_init


def relu_mlp(in_dim: int, hidden: int, layers: int) -> nn.Sequential:
    """``layers`` hidden Linear-ReLU layers of ``hidden`` units (Makhzani et al., App. A)."""
    sizes = [in_dim] + [hidden] * layers
    mods: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mods += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*mods)


def mixture_params(
    components: int, radius: float, radial_std: float, tangential_std: float
) -> tuple[Tensor, Tensor]:
    """Centres m_k (K, 2) and linear maps A_k (K, 2, 2) of the 2-D mixture prior of
    Makhzani et al., Fig. 4: K Gaussians evenly spread on a circle of ``radius``, each
    stretched along its radius (std ``radial_std``) and thin across it (``tangential_std``).
    A sample of component k is m_k + A_k eps with eps ~ N(0, I_2)."""
    angle = 2 * math.pi * torch.arange(components, dtype=torch.float64) / components
    cos, sin = torch.cos(angle), torch.sin(angle)
    centres = radius * torch.stack([cos, sin], 1)
    rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    scale = torch.diag(torch.tensor([radial_std, tangential_std], dtype=torch.float64))
    return centres.float(), (rotation @ scale).float()  # (K, 2), (K, 2, 2)


@NETWORKS.register("aae_encoder")
class AAEEncoder(nn.Module):
    def __init__(
        self,
        in_shape: list[int],  # one input item: (C, H, W) or (D,)
        z_dim: int,  # the style code z
        hidden: int = 1000,
        layers: int = 2,
        clusters: int = 0,  # K of the categorical head q(y|x); 0: none
        conv_width: int = 0,  # > 0: a DCGAN conv trunk of this width before one hidden layer
    ):
        super().__init__()
        self.z_dim, self.clusters, self.conv = z_dim, clusters, bool(conv_width)
        if conv_width:
            channels, size = in_shape[0], in_shape[-1]
            trunk, ch = conv_trunk(size, channels, conv_width)
            dcgan_init(trunk)
            s0, _ = dcgan_levels(size)  # the trunk's output side
            self.body = nn.Sequential(
                trunk, nn.Flatten(), nn.Linear(ch * s0 * s0, hidden), nn.ReLU()
            )
        else:
            self.body = relu_mlp(math.prod(in_shape), hidden, layers)
        self.z_head = nn.Linear(hidden, z_dim)
        self.y_head = nn.Linear(hidden, clusters) if clusters else None

    @property
    def code_dim(self) -> int:
        return self.clusters + self.z_dim

    def hidden(self, x: Tensor) -> Tensor:
        """The last hidden layer, which both heads read (N, hidden)."""
        return self.body(x if self.conv else x.flatten(1))

    def heads(self, x: Tensor) -> tuple[Tensor | None, Tensor]:
        """(logits of q(y|x) (N, K) or None, style z (N, z_dim)) from one pass."""
        h = self.hidden(x)
        return (self.y_head(h) if self.y_head is not None else None), self.z_head(h)

    def forward(self, x: Tensor) -> Tensor:
        """The code the decoder takes: z (N, z_dim) or [softmax(y), z] (N, K + z_dim)."""
        logits, z = self.heads(x)
        return z if logits is None else torch.cat([F.softmax(logits, 1), z], 1)

    def classify(self, x: Tensor) -> Tensor:
        """q(y|x): cluster (or class) probabilities (N, K)."""
        logits, _ = self.heads(x)
        if logits is None:
            raise ValueError("this encoder has no categorical head (clusters=0)")
        return F.softmax(logits, 1)


@NETWORKS.register("aae_decoder")
class AAEDecoder(nn.Module):
    def __init__(
        self,
        z_dim: int,  # the style code z (2 for the mixture prior)
        out_shape: list[int],
        hidden: int = 1000,
        layers: int = 2,
        tanh: bool = True,  # images in [-1, 1]
        clusters: int = 0,  # categorical mode: the code is [one-hot y (K), z]
        mixture: list[float] | None = None,  # [components, radius, radial_std, tangential_std]
        conv_width: int = 0,  # > 0: the DCGAN generator of this width (images; it ends in tanh)
    ):
        super().__init__()
        self.z_dim, self.clusters, self.out_shape = z_dim, clusters, tuple(out_shape)
        self.tanh = tanh and not conv_width
        if conv_width:
            channels, size = out_shape[0], out_shape[-1]
            self.net = DCGANGenerator(clusters + z_dim, size, channels, width=conv_width)
        else:
            self.net = nn.Sequential(
                relu_mlp(clusters + z_dim, hidden, layers),
                nn.Linear(hidden, math.prod(out_shape)),
            )
        self.mixture = None
        if mixture is not None:
            k, radius, radial, tangential = mixture
            centres, maps = mixture_params(int(k), radius, radial, tangential)
            # fixed by the constructor's arguments: not weights, so not saved
            self.register_buffer("centres", centres, persistent=False)
            self.register_buffer("maps", maps, persistent=False)
            self.mixture = int(k)

    def place(self, onehot: Tensor, eps: Tensor) -> Tensor:
        """Mixture prior: component one-hots (N, K) and eps ~ N(0, I_2) -> m_k + A_k eps."""
        centre = onehot @ self.centres  # (N, 2)
        maps = torch.einsum("nk,kij->nij", onehot, self.maps)  # (N, 2, 2)
        return centre + (maps @ eps.unsqueeze(2)).squeeze(2)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """``c`` None: ``z`` is the whole code (what the encoder gives). Otherwise the
        sampler's inputs: c the one-hot cluster (code [c, z]) or mixture component (code
        m_k + A_k z)."""
        if c is not None:
            z = self.place(c, z) if self.mixture else torch.cat([c, z], 1)
        x = self.net(z)
        x = torch.tanh(x) if self.tanh else x
        return x.view(z.shape[0], *self.out_shape)
