"""Larsen, Sønderby, Larochelle & Winther 2016, "Autoencoding beyond pixels using a learned
similarity metric" (VAE-GAN).

A VAE (gankit.variants.vae: encoder E = q(z|x), decoder G) whose reconstruction error is
measured in the features of a GAN discriminator D instead of pixels. With Dis_l(x) the output
of D's last conv block (``D.features``), the decoder's likelihood is a unit-variance Gaussian
in that feature space (Sec. 2.2, Eq. 6-7), so up to a constant

    L_llike^Dis_l = -E_q(z|x)[log N(Dis_l(x) | Dis_l(x~), I)] = 1/2 ||Dis_l(x) - Dis_l(x~)||^2

with x~ = G(z), z ~ q(z|x) (summed over features, averaged over the batch; the features of x
and x~ come from one pass of D, as in the authors' code, so that they share its BatchNorm
statistics). L_prior = KL(q(z|x) || N(0, I)) and the GAN batch holds BOTH reconstructions
and samples from the prior z_p ~ N(0, I) (Sec. 2.3, Eq. 9; Algorithm 1):

    L_GAN = log D(x) + log(1 - D(G(E(x)))) + log(1 - D(G(z_p))).

Each network minimises its own loss of Algorithm 1 (Sec. 2.2, "Limiting error signals to
relevant networks"), in its own phase, so that its gradient is exactly that loss's:

    E:  L_prior + L_llike^Dis_l                  (phase "E")
    G:  gamma L_llike^Dis_l - L_GAN              (phase "G"; the non-saturating form
                                                  -log D(x~) - log D(G(z_p)) of G's part of
                                                  -L_GAN, train.g_loss=minimax for the other)
    D:  -L_GAN                                   (phase "D"; no L_llike gradient reaches D)

The phases run one after the other on their own minibatches (D, then G, then E), the usual
alternating GAN updates, where Algorithm 1 updates the three from one batch at once. gamma is
``options.gamma``; the paper gives no value in its text, and its authors' code weights the
decoder's gradients 0.01 (reconstruction) against 0.99 (GAN): gamma = 0.01 here.
D's loss goes through tricks.AdversarialTerms, so instance noise, label smoothing, soft or
noisy labels and historical averaging apply to it as to any discriminator.

Exports: the VAE's (``sample``, ``apply``, ``reconstruct``, ``encoder_features``) and D's
probe ``features`` (as dcgan's: each conv block max-pooled to 4 x 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gankit import tricks
from gankit.config import VARIANT_OPTIONS, Config
from gankit.errors import ConfigError
from gankit.exports import Export
from gankit.networks import build_network
from gankit.presets import register_preset
from gankit.variants.base import VARIANTS, Phase, StepContext
from gankit.variants.dcgan import d_features_export
from gankit.variants.vae import FASHION_28, VAE, gaussian_kl, reparameterise, squared_error


@VARIANT_OPTIONS.register("vaegan")
@dataclass
class VAEGANOptions:
    gamma: float = 0.01  # weight of L_llike^Dis_l against the GAN loss in G's update (Alg. 1)

    def validate(self) -> None:
        if not self.gamma >= 0:
            raise ConfigError(
                f"options.gamma={self.gamma} must be >= 0: it weights the feature "
                "reconstruction error against the GAN loss in the decoder's update (e.g. 0.01)."
            )


def feature_llike(D: nn.Module, x: Tensor, recon: Tensor) -> Tensor:
    """L_llike^Dis_l (Eq. 7): 1/2 ||Dis_l(x) - Dis_l(x~)||^2 per image, batch mean; x and x~
    in one pass of D's conv trunk (shared BatchNorm statistics)."""
    feats = D.features(torch.cat([x, recon]))
    real, fake = feats.chunk(2)
    return 0.5 * squared_error(fake, real)


@VARIANTS.register("vaegan")
class VAEGAN(VAE):
    name = "vaegan"
    ddp_safe = False  # D.features is called outside D's forward
    applies = "encode images to mu(x) (apply), reconstruct (reconstruct), D's features (features)"

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        nets = super().build(cfg, data)  # G, E: the VAE's, built first in the same order
        channels, size = self.image_shape(data)
        if cfg.tricks.pack > 1:
            raise ConfigError("vaegan compares D's features image by image: tricks.pack must be 1.")
        nets["D"] = build_network(
            "dcgan_d",
            image_size=size,
            channels=channels,
            width=cfg.model.d_channels,
            **tricks.discriminator_options(cfg),
        )
        return nets

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, k, gamma = cfg.train, cfg.tricks, cfg.options.gamma
        tricks.check_tricks(cfg, nets["D"], nets["G"], names=("D", "G"))
        self.history = tricks.history_from(cfg)
        adv = tricks.AdversarialTerms.from_config(cfg, self.history)
        adv_prior = tricks.AdversarialTerms.from_config(cfg, prefix="_prior")
        if k.feature_matching or k.unrolled_steps or tricks.gp_weight(k, adv.family):
            raise ConfigError(
                "vaegan supports the loss-term tricks (instance noise, label smoothing, soft / "
                "noisy labels, historical averaging), not feature matching, unrolling or "
                "gradient penalties."
            )
        if k.r1_weight:
            raise ConfigError("vaegan does not apply R1 (tricks.r1_weight must be 0).")
        G, E, D = nets["G"], nets["E"], nets["D"]

        def encode(ctx: StepContext) -> tuple[Tensor, Tensor, Tensor]:
            """(z ~ q(z|x), mu, logvar) of this update's minibatch."""
            mu, logvar = E(ctx.real)
            return reparameterise(mu, logvar, ctx.rng), mu, logvar

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            x = ctx.real
            with torch.no_grad():  # the D step builds no graph of E and G
                recon, prior = G(encode(ctx)[0]), G(ctx.sample_z(ctx.batch_size))
            real_logits = D(adv.noisy(x, ctx))
            recon_logits, prior_logits = D(adv.noisy(recon, ctx)), D(adv.noisy(prior, ctx))
            adv.log_outputs(ctx, real_logits, recon_logits, names=("x", "x~"))
            ctx.log("D(G(z_p))", torch.sigmoid(prior_logits.detach()).mean())
            # -L_GAN = [-log D(x) - log(1 - D(x~))] + [-log(1 - D(G(z_p)))]. The second call
            # sees x's logits detached: its gradient is the prior samples' term alone, so the
            # sum's gradient is exactly -L_GAN's (its value counts -log D(x) once more).
            terms = adv.d_terms(ctx, real_logits, recon_logits, module=("D", D))
            terms.update(adv_prior.d_terms(ctx, real_logits.detach(), prior_logits))
            return terms

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            with torch.no_grad():  # E is not G's to train: no graph through it
                z = encode(ctx)[0]
            recon, prior = G(z), G(ctx.sample_z(ctx.batch_size))
            llike = feature_llike(D, ctx.real, recon)
            return {
                "g_llike": gamma * llike,
                # the non-saturating form of G's part of -L_GAN
                "g_adv_recon": adv.g_objective(D(adv.noisy(recon, ctx))),
                "g_adv_prior": adv.g_objective(D(adv.noisy(prior, ctx))),
                **adv.g_terms(ctx, None, ("G", G)),  # historical averaging where configured
            }

        def e_loss(ctx: StepContext) -> dict[str, Tensor]:
            z, mu, logvar = encode(ctx)
            recon = G(z)  # G and D are frozen in this phase: their weights get no gradient
            ctx.log("mse(x, x~)", (recon.detach() - ctx.real).pow(2).mean())
            return {
                "e_prior": gaussian_kl(mu, logvar),
                "e_llike": feature_llike(D, ctx.real, recon),
            }

        betas = (t.beta1, t.beta2)
        return [
            Phase("D", ["D"], d_loss, lr=t.lr_d, betas=betas, repeat=t.d_steps),
            Phase("G", ["G"], g_loss, lr=t.lr_g, betas=betas),
            Phase("E", ["E"], e_loss, lr=t.lr_g, betas=betas),
        ]

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        """The VAE's exports and D's probe features (Radford et al. 2015, Sec. 5.1)."""
        out = super().exports(cfg, data)
        if data.kind != "image":  # build refuses such data; nothing more to describe
            return out
        out["features"] = d_features_export(cfg, data)
        return out


register_preset(
    "vaegan-fashion",
    "VAE-GAN on Fashion-MNIST: vae-fashion's E and G, D's features as the similarity metric",
    {
        **FASHION_28,
        "train.variant": "vaegan",
        # dcgan-fashion's CPU recipe (batch 32, Adam 5e-4, an EMA of E and G): in pilots
        # (5000 steps, seed 0) sample FID 6.09 against 9.02 of batch 64 / 3e-4 / no EMA
        "train.batch_size": 32,
        "train.steps": 4500,  # ~7.5 CPU minutes on one thread (2.4 epochs: 3 batches a step)
        "train.lr_g": 5e-4,
        "train.lr_d": 5e-4,
        "train.ema": 0.995,
    },
)
