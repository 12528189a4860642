"""Convolutional encoders x -> z for the GANs that learn the inverse map (BiGAN, ALI, VAE,
VAE-GAN, adversarial autoencoders on images).

The trunk follows the DCGAN discriminator's guidelines (Radford et al. 2015, Sec. 3):
strided convolutions, BatchNorm except on the input layer, LeakyReLU(0.2), N(0, 0.02) init.
A linear head then gives either the code z (a deterministic encoder: BiGAN, Donahue et al.
2016) or both moments of a diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))) (ALI's
stochastic encoder, Dumoulin et al. 2016, Sec. 3; the VAE's, Kingma & Welling 2014, App. C).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.networks.base import NETWORKS
from gankit.networks.dcgan import dcgan_levels, pooled_features
from gankit.nn.init import dcgan_init


def conv_trunk(image_size: int, channels: int, width: int) -> tuple[nn.Sequential, int]:
    """The DCGAN discriminator's body: (N, C, S, S) -> (N, ch, s0, s0); returns it and ch."""
    s0, n = dcgan_levels(image_size)
    ch = width
    layers: list[nn.Module] = [nn.Conv2d(channels, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for _ in range(n - 1):
        layers += [
            nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False),  # halves H and W
            nn.BatchNorm2d(ch * 2),
            nn.LeakyReLU(0.2, True),
        ]
        ch *= 2
    return nn.Sequential(*layers), ch


@NETWORKS.register("conv_e")
class ConvEncoder(nn.Module):
    """Images -> codes. ``gaussian=False``: forward gives z (N, z_dim). ``gaussian=True``:
    forward gives (mu, logvar), each (N, z_dim), and :meth:`mean` gives mu."""

    def __init__(
        self, image_size: int, channels: int, z_dim: int, width: int = 64, gaussian: bool = False
    ):
        super().__init__()
        s0, _ = dcgan_levels(image_size)
        self.z_dim, self.gaussian = z_dim, gaussian
        self.features, ch = conv_trunk(image_size, channels, width)
        self.head = nn.Linear(ch * s0 * s0, z_dim * (2 if gaussian else 1))
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        out = self.head(self.features(x).flatten(1))
        if not self.gaussian:
            return out
        mu, logvar = out.chunk(2, dim=1)
        return mu, logvar

    def mean(self, x: Tensor) -> Tensor:
        """The code a deterministic encoder gives, or the posterior mean mu(x)."""
        out = self(x)
        return out[0] if self.gaussian else out

    def probe_features(self, x: Tensor) -> Tensor:
        """The DCGAN probe recipe on the encoder's trunk (each conv block max-pooled to 4 x 4,
        concatenated; Radford et al. 2015, Sec. 5.1) followed by the code itself."""
        return torch.cat([pooled_features(self.features, x), self.mean(x)], dim=1)
