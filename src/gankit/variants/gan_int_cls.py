"""Reed et al. 2016, "Generative Adversarial Text to Image Synthesis" (GAN-INT-CLS), on
caption data: each item has an image ``x`` and the embeddings phi(t) of its captions, fields
``texts`` (several) and ``text`` (a fixed one; gankit.data.captions); each step trains on
one caption per image drawn at random (``options.caption_draws``, gankit.variants.stackgan
.step_text). G(z, phi(t)) and D(x, phi(t)) are the DCGAN pair of
Sec. 4.1 (gankit.networks.text_dcgan: phi(t) compressed by FC + leaky ReLU, concatenated to z
in G and depth-concatenated at D's s0 x s0 feature map).

Matching-aware discriminator (GAN-CLS, Algorithm 1; ``options.matching_aware``): besides
s_r = D(x, h) and s_f = D(x^, h), D scores s_w = D(x, h^) for a real image with the wrong
text h^ (the next item's caption in the batch) as fake:

    L_D = log(s_r) + (log(1 - s_w) + log(1 - s_f)) / 2,    L_G = log(s_f)

(the two fake terms are concatenated before the mean-reduced loss, which gives the 1/2 weights;
any loss family of train.loss applies in place of log).

Manifold interpolation (GAN-INT, Sec. 4.3; ``options.interpolation``): G's objective gains
E_{t1,t2}[log(1 - D(G(z, beta t1 + (1 - beta) t2)))] with beta = ``options.beta`` (0.5 in the
paper) on pairs (each item's caption and the next item's), through the loss family's G
objective, term ``g_int_adv``; D never sees interpolated text.

Text noise (``options.text_noise`` = s): while training, G's caption input is phi(t) + s * eps,
eps ~ N(0, I), drawn from the run's saved noise stream; D judges the pair with the clean phi(t).
It is the fixed-variance form of StackGAN's conditioning augmentation (Zhang et al. 2017, Sec.
3.1: more (text, image) pairs from few captions, robustness to small moves along the text
manifold): the captions of a caption set are a few hundred points of the embedding sphere, and
without it G learns only those points, so a held-out phrasing a distance ~0.35 from its nearest
training caption can draw another class.

The paper's four models are switches of one preset: GAN (both off), GAN-CLS (matching-aware
only; also preset gan-cls-fashion), GAN-INT (interpolation only), GAN-INT-CLS (both, the
other presets' default).

Exports ``sample``: G with network ``T`` (the frozen caption encoder and a bank of training
captions' phi(t), gankit.text.embed.encoder_network) as its text condition, so `gankit sample
RUN --text "a dark ankle boot"` needs only the run. Preview: one row per fixed caption (the
first item of each class), columns of shared noise.
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
from gankit.networks.conditional import LatentLayout
from gankit.nn.modes import evaluating
from gankit.presets import register_preset
from gankit.text.embed import encoder_network
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant, square_images
from gankit.variants.stackgan import (
    PREVIEW_COLUMNS,
    check_caption_draws,
    matching_aware_d_terms,
    mismatched,
    preview_texts,
    step_text,
    text_dim,
)


@VARIANT_OPTIONS.register("gan-int-cls")
@dataclass
class GANIntClsOptions:
    matching_aware: bool = True  # GAN-CLS: real image + wrong text is a fake pair
    interpolation: bool = True  # GAN-INT: G also learns from interpolated captions
    beta: float = 0.5  # the interpolation weight (Sec. 4.3: "fixing beta = 0.5 works well")
    cond_dim: int = 128  # phi(t) compressed to this size in G and D (Sec. 4.1: 128)
    caption_draws: int = 1  # phi(t) per item per step: stackgan.step_text (0: fixed caption)
    text_noise: float = 0.0  # std of N(0, s^2) on G's phi(t) in training (see the docstring)

    def validate(self) -> None:
        check_caption_draws(self.caption_draws)
        if not (0.0 <= self.text_noise < float("inf")):
            raise ConfigError(f"options.text_noise={self.text_noise} must be >= 0 (0 = off).")
        if not 0.0 <= self.beta <= 1.0:
            raise ConfigError(f"options.beta={self.beta}: use a value in [0, 1] (paper: 0.5).")
        if self.cond_dim < 1:
            raise ConfigError(f"options.cond_dim={self.cond_dim} must be >= 1 (paper: 128).")


@VARIANTS.register("gan-int-cls")
class GANIntCls(Variant):
    name = "gan-int-cls"

    def _setup(self, data: Any) -> None:
        self.channels, self.side = square_images(data, "gan-int-cls", "Use fashion-captions.")
        self.text_dim = text_dim(data)

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        self._setup(data)
        o, m, C, S, E = cfg.options, cfg.model, self.channels, self.side, self.text_dim
        k = tricks.discriminator_options(cfg)
        if set(k) - {"spectral_norm", "norm"}:
            raise ConfigError(
                f"tricks {', '.join(sorted(set(k) - {'spectral_norm', 'norm'}))} are not "
                "supported by train.variant=gan-int-cls; drop them (tricks.spectral_norm is)."
            )
        return {
            "G": build_network("text_g", z_dim=m.z_dim, text_dim=E, image_size=S, channels=C,
                               width=m.g_channels, cond_dim=o.cond_dim),
            "D": build_network("text_d", text_dim=E, image_size=S, channels=C,
                               width=m.d_channels, cond_dim=o.cond_dim, **k),
            "T": encoder_network(data),  # frozen: the caption encoder, for --text
        }  # fmt: skip

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, o, k = cfg.train, cfg.options, cfg.tricks
        if k.feature_matching or k.unrolled_steps:
            raise ConfigError(
                "gan-int-cls does not take tricks.feature_matching or unrolled_steps."
            )
        G, D = nets["G"], nets["D"]
        tricks.check_tricks(cfg, D, G)
        self.history = tricks.history_from(cfg)
        adv = tricks.AdversarialTerms.from_config(cfg, self.history)

        def g_input(ctx: StepContext, text: Tensor) -> Tensor:  # options.text_noise
            if not o.text_noise:
                return text
            eps = torch.randn(text.shape, generator=ctx.rng, device=ctx.rng.device)
            return text + o.text_noise * eps.to(text.device)

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            text = step_text(ctx, o.caption_draws)
            with torch.no_grad():
                fake = G(ctx.sample_z(ctx.batch_size), g_input(ctx, text))
            return matching_aware_d_terms(ctx, adv, D, ctx.real, fake, text, "D", o.matching_aware)

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            text = step_text(ctx, o.caption_draws)
            fake = G(ctx.sample_z(ctx.batch_size), g_input(ctx, text))
            terms = adv.g_terms(ctx, D(adv.noisy(fake, ctx), text), ("G", G))
            if o.interpolation:  # Sec. 4.3: G must satisfy D between captions too
                mixed = o.beta * text + (1 - o.beta) * mismatched(text)
                between = G(ctx.sample_z(ctx.batch_size), g_input(ctx, mixed))
                terms["g_int_adv"] = adv.g_objective(D(adv.noisy(between, ctx), mixed))
            return terms

        b, r = (t.beta1, t.beta2), t.d_steps
        return [
            Phase("D", ["D"], d_loss, lr=t.lr_d, betas=b, repeat=r),
            Phase("G", ["G"], g_loss, lr=t.lr_g, betas=b),
        ]

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        self._setup(data)
        S = self.side
        return {
            "sample": Export(
                "G",
                "sample",
                input={"kind": "noise", "shape": [cfg.model.z_dim]},
                output={"kind": data.kind, "shape": list(data.shape)},
                layout=LatentLayout(cfg.model.z_dim).to_meta(),
                condition={"kind": "text", "encoder": "T"},
                description=f"GAN-INT-CLS: caption -> {S}x{S} image",
            )
        }

    def discriminate(self, nets: dict[str, nn.Module], x: Tensor) -> Tensor:
        raise ConfigError("gan-int-cls's discriminator judges (image, caption) pairs, not images.")

    def preview(self, p: Any) -> None:
        """One row per fixed caption, the same PREVIEW_COLUMNS noise vectors in every row."""
        G = p.model("sample")
        if G is None:
            return
        z = p.fixed_z[:PREVIEW_COLUMNS]
        with torch.no_grad(), evaluating(G):
            rows = [G(z, t.expand(len(z), -1)) for t in preview_texts(p.data).to(p.device)]
        p.image_grid(torch.cat(rows).float().cpu(), nrow=len(z))


# Sized for 2 CPU cores: DCGAN widths 32, batch 64, about 0.05 CPU s a step on one thread.
_BASE = {
    "train.variant": "gan-int-cls",
    "model.z_dim": 64,
    "model.g_channels": 32,
    "model.d_channels": 32,
    "options.cond_dim": 32,  # 128 in the paper, for 1024-d char-CNN-RNN embeddings; ours are 64-d
    "train.batch_size": 64,  # Sec. 5: batch 64
    "train.lr_g": 2e-4,  # Sec. 5: Adam, 0.0002, momentum 0.5
    "train.lr_d": 2e-4,
    "train.beta1": 0.5,
    "train.ema": 0.995,
    "train.steps": 4000,
    "log.sample_every": 500,
    "log.checkpoint_every": 1000,
}
register_preset(
    "gan-int-cls-digits",
    "GAN-INT-CLS on scikit-learn's digits with captions ('a thick seven'), 16x16; quick",
    {**_BASE, "data.name": "digits-captions", "data.image_size": 16, "train.steps": 2000},
)
register_preset(
    "gan-int-cls-fashion",
    'GAN-INT-CLS on Fashion-MNIST captions; sample with --text "a dark ankle boot"; '
    "options.matching_aware / options.interpolation switch GAN, GAN-CLS, GAN-INT",
    {**_BASE, "data.name": "fashion-captions"},
)
register_preset(
    "gan-cls-fashion",
    "GAN-CLS (Reed et al.'s matching-aware D, no interpolation) on Fashion-MNIST captions: "
    "the most faithful to held-out captions here (docs/text-to-image.md)",
    {**_BASE, "data.name": "fashion-captions", "options.interpolation": False},
)
register_preset(
    "gan-int-cls-folder",
    "GAN-INT-CLS on your captioned images: data.root=DIR with NAME.txt captions or "
    "captions.jsonl (docs/text-to-image.md); data.image_size=32 resizes",
    {**_BASE, "data.name": "caption-folder", "data.image_size": 32},
)
