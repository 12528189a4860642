"""Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional GANs".

The game and the updates are those of :mod:`gankit.variants.gan`; only the networks change:
the all-convolutional generator and discriminator of :mod:`gankit.networks.dcgan`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from gankit import tricks
from gankit.config import Config
from gankit.errors import ConfigError
from gankit.networks import build_network
from gankit.variants.base import VARIANTS
from gankit.variants.gan import GAN


@VARIANTS.register("dcgan")
class DCGAN(GAN):
    name = "dcgan"

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        if data.kind != "image":
            raise ConfigError(
                f"DCGAN needs image data; {data.name!r} is {data.kind} data. "
                "Use train.variant=gan for vectors."
            )
        channels, height, width = data.shape
        if height != width:
            raise ConfigError(
                f"DCGAN needs square images, got {height}x{width}; set data.image_size."
            )
        m = cfg.model
        G = build_network(
            "dcgan_g",
            z_dim=m.z_dim,
            image_size=height,
            channels=channels,
            width=m.g_channels,
            **tricks.generator_options(cfg),
        )
        D = build_network(
            "dcgan_d",
            image_size=height,
            channels=channels,
            width=m.d_channels,
            **tricks.discriminator_options(cfg),
        )
        return {"G": G, "D": D}
