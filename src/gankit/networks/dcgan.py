"""DCGAN generator and discriminator (Radford et al. 2015, Sec. 3 and Fig. 1).

Guidelines followed: strided convolutions in D and fractionally-strided (transposed)
convolutions in G instead of pooling; BatchNorm in both, except G's output and D's input layer;
ReLU in G with tanh output; LeakyReLU(0.2) in D; no fully connected hidden layers;
N(0, 0.02) initialisation.

Image side S must be s0 * 2**n with s0 in {4, 7}: 8, 16, 32, 64, 128 (s0=4) and 28 (s0=7),
so MNIST-sized images need no padding. G projects z to s0 x s0 and doubles n times.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gankit.errors import ConfigError
from gankit.networks.base import NETWORKS
from gankit.nn.init import dcgan_init
from gankit.nn.minibatch_disc import MinibatchDiscrimination
from gankit.nn.pack import pack as pack_samples
from gankit.nn.pack import unpack_repeat
from gankit.nn.spectral import apply_spectral_norm
from gankit.nn.vbn import VirtualBatchNorm


def dcgan_levels(image_size: int) -> tuple[int, int]:
    """(s0, n) with image_size = s0 * 2**n, s0 in {4, 7} and n >= 1."""
    for s0 in (4, 7):
        n, side = 0, image_size
        while side > s0 and side % 2 == 0:
            side, n = side // 2, n + 1
        if side == s0 and n >= 1:
            return s0, n
    raise ConfigError(
        f"DCGAN cannot make {image_size}x{image_size} images; use a side of 4*2^n or 7*2^n "
        "(8, 16, 28, 32, 64, 128): set data.image_size."
    )


@NETWORKS.register("dcgan_g")
class DCGANGenerator(nn.Module):
    def __init__(
        self,
        z_dim: int,
        image_size: int,
        channels: int,
        width: int = 64,
        vbn: int = 0,  # virtual batch norm with this reference batch size (Salimans et al. 2016)
    ):
        super().__init__()
        s0, n = dcgan_levels(image_size)
        self.z_dim, self.out_shape = z_dim, (channels, image_size, image_size)
        self.vbn = vbn

        def norm(c: int) -> nn.Module:
            return VirtualBatchNorm(c, vbn) if vbn else nn.BatchNorm2d(c)

        ch = width * 2 ** (n - 1)  # widest at the lowest resolution, halving as it grows
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ch, s0, 1, 0, bias=False),  # (N, z, 1, 1) -> (N, ch, s0, s0)
            norm(ch),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),  # doubles H and W
                norm(ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        if vbn:  # the fixed reference batch, drawn by the variant (tricks.init_vbn_reference)
            self.register_buffer("vbn_ref_z", torch.zeros(vbn, z_dim))

    def forward(self, z: Tensor) -> Tensor:
        if self.vbn:  # reference rows first; see gankit.nn.vbn
            z = torch.cat([self.vbn_ref_z, z])
        x = self.net(z.view(z.shape[0], self.z_dim, 1, 1))
        return x[self.vbn :] if self.vbn else x


def _d_norm(norm: str, channels: int) -> list[nn.Module]:
    """A DCGAN discriminator's hidden normalisation. ``layer`` normalises each sample over
    (C, H, W) with a per-channel scale and shift (GroupNorm with one group): the
    batch-independent choice Gulrajani et al. 2017 (Sec. 4) recommend for a penalised critic."""
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "layer":
        return [nn.GroupNorm(1, channels)]
    if norm == "none":
        return []
    raise ConfigError(f"model.d_norm={norm!r}; valid: batch, layer, none.")


@NETWORKS.register("dcgan_d")
class DCGANDiscriminator(nn.Module):
    def __init__(
        self,
        image_size: int,
        channels: int,
        width: int = 64,
        pack: int = 1,  # PacGAN degree m: m images stacked along channels (Lin et al. 2018)
        minibatch_disc: bool = False,  # Salimans et al. 2016, Sec. 3.2, on the flat features
        mbd_kernels: int = 50,  # B of minibatch discrimination
        mbd_dims: int = 5,  # C of minibatch discrimination
        spectral_norm: bool = False,  # Miyato et al. 2018, on every conv / linear weight
        norm: str = "batch",  # hidden convs: batch (Radford et al.), layer or none
    ):
        super().__init__()
        s0, n = dcgan_levels(image_size)
        self.pack = pack
        ch = width
        layers: list[nn.Module] = [
            nn.Conv2d(channels * pack, ch, 4, 2, 1),
            nn.LeakyReLU(0.2, True),
        ]
        for _ in range(n - 1):
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"),  # halves H and W
                *_d_norm(norm, ch * 2),
                nn.LeakyReLU(0.2, True),
            ]
            ch *= 2
        self.features = nn.Sequential(*layers)  # (N, ch, s0, s0): reused by feature extractors
        self.head: nn.Module = nn.Conv2d(ch, 1, s0, 1, 0)  # one logit per image
        if minibatch_disc:  # closeness features need the flat vector: (N, ch*s0*s0) -> (N, 1)
            flat = ch * s0 * s0
            self.head = nn.Sequential(
                nn.Flatten(),
                MinibatchDiscrimination(flat, mbd_kernels, mbd_dims),
                nn.Linear(flat + mbd_kernels, 1),
            )
        dcgan_init(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        # (N, C, H, W) -> (N / pack, pack * C, H, W): one logit per pack
        return self.head(self.features(pack_samples(x, self.pack))).flatten()

    # Radford et al. 2015, Sec. 5.1: "use all layers' features from the discriminator,
    # max-pooling each layer's representation to produce a 4 x 4 spatial grid", flattened and
    # concatenated, as the input of a linear L2-SVM.
    PROBE_GRID = 4

    def probe_feature_dim(self) -> int:
        """Length of :meth:`probe_features`' vectors: 16 values per channel of each layer."""
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        return sum(c.out_channels for c in convs) * self.PROBE_GRID**2

    def probe_features(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, F): each conv layer's activations (after its nonlinearity)
        max-pooled to 4 x 4 and concatenated. A packing D sees packs of m copies of each
        image, so that every image gets its own features."""
        return pooled_features(self.features, pack_samples(unpack_repeat(x, self.pack), self.pack))


def pooled_features(
    trunk: nn.Sequential, x: Tensor, grid: int = DCGANDiscriminator.PROBE_GRID
) -> Tensor:
    """Radford et al. 2015, Sec. 5.1 on any conv trunk: the output of each LeakyReLU (the end
    of a conv block) max-pooled to ``grid`` x ``grid``, flattened and concatenated."""
    h, out = x, []
    for layer in trunk:
        h = layer(h)
        if isinstance(layer, nn.LeakyReLU):
            out.append(F.adaptive_max_pool2d(h, grid).flatten(1))
    return torch.cat(out, dim=1)
