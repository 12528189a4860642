"""Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional GANs".

The game and the updates are those of :mod:`gankit.variants.gan`; only the networks change:
the all-convolutional generator and discriminator of :mod:`gankit.networks.dcgan`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gankit import tricks
from gankit.config import Config
from gankit.exports import Export
from gankit.networks import build_network
from gankit.variants.base import VARIANTS, square_images
from gankit.variants.gan import GAN


@VARIANTS.register("dcgan")
class DCGAN(GAN):
    name = "dcgan"
    applies = (
        "write D's features of images (--export features; see `gankit probe`) or its "
        "real-vs-fake logit (--export discriminator; see `gankit probe --detect`)"
    )

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        channels, height = square_images(data, "DCGAN", "Use train.variant=gan for vectors.")
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

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        """G as the sampler; D's features for the linear probe of Sec. 5.1 (`gankit probe`):
        each conv layer max-pooled to 4 x 4 and concatenated; and D itself, one logit per
        image, as a fake detector (`gankit probe --detect`; lecture 004: "the Discriminator
        can be used to detect fake images"). A packing D (PacGAN) judges packs of m images,
        not one, so it exports no per-image discriminator."""
        if data.kind != "image":  # build refuses such data; nothing to describe
            return super().exports(cfg, data)
        out = {**super().exports(cfg, data), "features": d_features_export(cfg, data)}
        if cfg.tricks.pack == 1:
            out["discriminator"] = Export(
                "D",
                "map",
                input={"kind": "image", "shape": list(data.shape)},
                # D(x) is one logit per image: (N, C, H, W) -> (N,), a scalar each
                output={"kind": "vector", "shape": []},
                ema=False,
                description="D's logit per image: high for real, low for fake",
            )
        return out


def d_features_export(cfg: Config, data: Any, module: str = "D") -> Export:
    """The ``features`` export of a DCGAN discriminator ``module`` on image ``data``: each
    conv layer max-pooled to 4 x 4 and concatenated (Radford et al. 2015, Sec. 5.1), what
    `gankit probe` reads."""
    channels, size, _ = data.shape
    with torch.device("meta"):  # only the feature length is wanted: no storage
        D = build_network("dcgan_d", image_size=size, channels=channels, width=cfg.model.d_channels)
    return Export(
        module,
        "map",
        input={"kind": "image", "shape": list(data.shape)},
        output={"kind": "vector", "shape": [D.probe_feature_dim()]},
        ema=False,
        call="probe_features",
        description="D's conv features, each layer max-pooled to 4x4 (Radford et al. Sec. 5.1)",
    )
