"""Kingma & Welling 2014, "Auto-Encoding Variational Bayes" (the VAE): the baseline of
Larsen et al. 2016 (gankit.variants.vaegan) and a generative model in its own right.

An encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))) (network ``conv_e`` with ``gaussian=True``)
and a decoder p(x|z) (``dcgan_g``, tanh output in [-1, 1]) are trained together on the negative
evidence lower bound (Sec. 2.3, Eq. 3 / 10), one sample z per image:

    L = KL(q(z|x) || N(0, I)) - log p(x | z),      z = mu + exp(logvar / 2) * eps, eps ~ N(0, I)

with the KL divergence in closed form (Appendix B):
KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)). The decoder's likelihood is a
Gaussian with a fixed variance sigma^2 around the decoded image x~ (Appendix C.2 uses Gaussian
decoders for real-valued data), so that up to a constant

    -log p(x | z) = 1 / (2 sigma^2) ||x - x~||^2 = ``options.recon_weight`` * ||x - x~||^2,

summed over pixels and averaged over the minibatch, like the KL term. eps is drawn from the
run's saved noise stream (``ctx.rng``), so a resumed run draws the same codes. One phase
updates E and the decoder G together.

Exports: ``sample`` (G from the prior), ``apply`` (the posterior mean mu(x)), ``reconstruct``
(G(mu(x)), the ``encode_decode`` composite) and ``encoder_features`` (conv_e's probe features).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import VARIANT_OPTIONS, Config
from gankit.errors import ConfigError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.nn.modes import evaluating
from gankit.presets import register_preset
from gankit.variants.base import (
    VARIANTS,
    Phase,
    StepContext,
    Variant,
    reconstruct_export,
    sampler_export,
    square_images,
)


@VARIANT_OPTIONS.register("vae")
@dataclass
class VAEOptions:
    # 1 / (2 sigma^2) of the Gaussian decoder: sigma = 0.5 on images in [-1, 1]. On
    # vae-fashion (1000-step pilots) sample FID fell as the weight fell (50: 48, 12.5: 33,
    # 4: 23, 1.5: 20) while reconstruction MSE rose (0.0095 to 0.0118 on [0, 1] images)
    recon_weight: float = 2.0

    def validate(self) -> None:
        if not self.recon_weight > 0:
            raise ConfigError(
                f"options.recon_weight={self.recon_weight} must be > 0: it is 1 / (2 sigma^2) "
                "of the Gaussian decoder (e.g. 2 for sigma = 0.5)."
            )


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over z's (N, d) dimensions and averaged
    over the batch (Kingma & Welling 2014, Appendix B)."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()


def reparameterise(mu: Tensor, logvar: Tensor, rng: torch.Generator | None) -> Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I) from ``rng`` (Kingma & Welling 2014, Sec. 2.4)."""
    eps = torch.randn(mu.shape, generator=rng, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def squared_error(a: Tensor, b: Tensor) -> Tensor:
    """||a - b||^2 per item (every dimension after the first summed), averaged over items."""
    return (a - b).pow(2).flatten(1).sum(1).mean()


@VARIANTS.register("vae")
class VAE(Variant):
    name = "vae"
    ema_modules = ("G", "E")
    applies = "encode images to the posterior mean mu(x) (apply), reconstruct (reconstruct)"

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        channels, size = self.image_shape(data)
        m = cfg.model
        return {  # built in this order: G, E (the seeded initialisation depends on it)
            "G": build_network(
                "dcgan_g", z_dim=m.z_dim, image_size=size, channels=channels, width=m.g_channels
            ),
            "E": self.encoder(cfg, channels, size),
        }

    def image_shape(self, data: Any) -> tuple[int, int]:
        """(channels, side) of square image data; a ConfigError for anything else."""
        hint = "Use e.g. data.name=fashion-mnist (or ali / bigan for vectors)."
        return square_images(data, self.name, hint)

    def encoder(self, cfg: Config, channels: int, size: int) -> nn.Module:
        """q(z|x): conv_e with a Gaussian head, as wide as D (model.d_channels)."""
        return build_network(
            "conv_e",
            image_size=size,
            channels=channels,
            z_dim=cfg.model.z_dim,
            width=cfg.model.d_channels,
            gaussian=True,
        )

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, w = cfg.train, cfg.options.recon_weight
        G, E = nets["G"], nets["E"]

        def loss(ctx: StepContext) -> dict[str, Tensor]:
            x = ctx.real
            mu, logvar = E(x)
            recon = G(reparameterise(mu, logvar, ctx.rng))
            ctx.log("mse(x, x~)", (recon - x).pow(2).mean())
            return {"kl": gaussian_kl(mu, logvar), "recon": w * squared_error(recon, x)}

        return [Phase("VAE", ["E", "G"], loss, lr=t.lr_g, betas=(t.beta1, t.beta2))]

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        image = {"kind": data.kind, "shape": list(data.shape)}
        out = {"sample": sampler_export("G", self.layout(cfg, data), data)}
        if data.kind != "image":  # build refuses such data; nothing more to describe
            return out
        channels, size, _ = data.shape
        with torch.device("meta"):  # only the feature length is wanted: no storage
            E = self.encoder(cfg, channels, size)
            feature_dim = E.probe_features(torch.zeros(1, channels, size, size)).shape[1]
        out["apply"] = Export(
            "E",
            "map",
            input=image,
            output={"kind": "codes", "shape": [cfg.model.z_dim]},
            call="mean",
            description="encode images to the posterior mean mu(x) of q(z|x)",
        )
        out["reconstruct"] = reconstruct_export(image, "reconstruct images: G(mu(x))")
        out["encoder_features"] = Export(
            "E",
            "map",
            input=image,
            output={"kind": "vector", "shape": [feature_dim]},
            call="probe_features",
            description="E's conv features, each block max-pooled to 4x4, and mu(x)",
        )
        return out

    @torch.no_grad()
    def preview(self, p: Any) -> None:
        """Prior samples G(z) from the fixed noise (8 a row), then a row of real images and a
        row of their reconstructions G(mu(x)) below it."""
        G, recon = p.sampler(), p.model("reconstruct")
        if G is None or recon is None:
            return
        fake = G.grid(p.fixed_z)
        fake = fake[: len(fake) // 8 * 8 or len(fake)]  # whole rows, so real / recon align
        real = p.data.x[:8].to(p.device)
        with evaluating(recon):
            rec = recon(real).float().cpu()
        p.image_grid(torch.cat([fake, real.cpu(), rec]), nrow=8)


# Fashion-MNIST at 28 x 28, sized for CPU minutes: the same E and G widths (32) and z_dim as
# vaegan-fashion, so that benchmarks/vaegan_fashion.py compares the objectives alone.
FASHION_28 = {
    "data.name": "fashion-mnist",
    "model.z_dim": 32,
    "model.g_channels": 32,
    "model.d_channels": 32,
    "train.batch_size": 64,
    "log.n_fixed": 64,
    "log.sample_every": 0,
    "log.checkpoint_every": 1000,
}
register_preset(
    "vae-fashion",
    "VAE on Fashion-MNIST: Gaussian conv encoder, DCGAN decoder, pixel squared error",
    {
        **FASHION_28,
        "train.variant": "vae",
        "train.steps": 12000,  # about vaegan-fashion's CPU time: a step here costs ~1/5 of one
        "train.lr_g": 1e-3,
        "train.beta1": 0.9,  # Adam's default: a VAE is not an adversarial game
    },
)
