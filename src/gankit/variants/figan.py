"""Hasenstab et al. 2023, "Feature Interpretation Using Generative Adversarial Networks
(FIGAN): A Framework for Visualizing a CNN's Learned Features", IEEE Access 11.

Three steps (Sec. II; seminar notes 000, "Architecture"): (1) a CNN classifier is trained;
(2) a conditional GAN is trained on the CNN's learned features: G(z, f) makes an image whose
features are f, D judges the pair (image, f); (3) images are generated while f moves along a
direction (one class's mean feature to another's, or a principal component), with the noise
fixed, to see what the CNN relies on (``gankit explain``, gankit.applications.figan_walk).

f is the classifier's penultimate layer reduced by PCA to ``options.k`` whitened values
(gankit.networks.figan_features), computed once before training from the frozen classifier.
G is the conditional DCGAN's G with f as its continuous code (Mirza & Osindero 2014, Sec. 3.2:
the condition as extra input); D sees f by projection (Miyato & Koyama 2018, Eq. 3, with f for
the one-hot label) or concatenation. Real pairs are (x, f(x)); a fake pair is (G(z, f), f)
with f the feature vector of a training image drawn from the run's saved noise stream, so the
fakes follow the features' distribution and resume continues exactly. The game itself (loss
family, k steps, tricks) is GAN's.

Matching-aware D (``options.matching_aware``; Reed et al. 2016, "Generative Adversarial Text to
Image Synthesis", Algorithm 1, GAN-CLS, with f for the text): besides s_r = D(x, f) and
s_f = D(G(z, f), f), D scores the real image under the wrong features, s_w = D(x, f^) with f^
the next batch item's f, as fake: L_D = log s_r + (log(1 - s_w) + log(1 - s_f)) / 2 (the two
fake terms are concatenated before the mean-reduced loss; any train.loss family in place of
log). A D that only asks "is x real?" can then be fooled by a real-looking image of the wrong
class; this one must also check that x has features f, which G then has to honour.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gankit import tricks
from gankit.config import VARIANT_OPTIONS, Config
from gankit.errors import ConfigError
from gankit.exports import Export
from gankit.losses import d_probabilities
from gankit.networks import build_network
from gankit.networks.conditional import LatentLayout
from gankit.networks.figan_d import MODES
from gankit.presets import register_preset
from gankit.variants.base import VARIANTS, Phase, StepContext, sampler_export
from gankit.variants.cgan import base_networks
from gankit.variants.gan import GAN


@VARIANT_OPTIONS.register("figan")
@dataclass
class FIGANOptions:
    # "domain" (the dataset's cached domain classifier), a .safetensors file written by
    # `gankit classifier train`, or a TorchScript file (docs/figan.md: the convention)
    classifier: str = "domain"
    feature_layer: str = ""  # TorchScript only: a submodule mapping the image to its features
    k: int = 8  # principal components of the features that condition G and D
    d_condition: str = "projection"  # how D sees f: projection (Miyato Eq. 3) or concat
    # Reed et al. 2016, Algorithm 1 (GAN-CLS): the real image with the wrong f is a fake pair
    matching_aware: bool = False

    def validate(self) -> None:
        if self.k < 1:
            raise ConfigError(f"options.k={self.k} must be at least 1.")
        if self.d_condition not in MODES:
            raise ConfigError(
                f"options.d_condition={self.d_condition!r}; valid: {', '.join(MODES)}."
            )
        if not self.classifier:
            raise ConfigError("options.classifier is empty; use 'domain' or a file path.")


@VARIANTS.register("figan")
class FIGAN(GAN):
    name = "figan"
    ema_modules = ("G",)
    applies = "write the frozen classifier's reduced features f of images (--export features)"
    bank: Tensor | None = None  # f of every training image, where fake conditions come from

    def layout(self, cfg: Config, data: Any) -> LatentLayout:
        # f is G's continuous code vector c: `gankit traverse --code i` walks component i
        return LatentLayout(cfg.model.z_dim, continuous=cfg.options.k)

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        from gankit.applications.figan import build_feature_map

        o, m = cfg.options, cfg.model
        if data.kind != "image":
            raise ConfigError(f"figan explains an image classifier; {data.name!r} is not images.")
        C, f = build_feature_map(o.classifier, o.feature_layer, o.k, data)
        C.requires_grad_(False)  # frozen: FIGAN never trains its classifier
        # the condition of each real image travels with it in the batch, as field "f"
        data.fields["f"] = f
        self.bank = f
        g_base, g_kw, d_base, d_kw = base_networks(cfg, data)
        G = build_network("cond_g", base=g_base, base_kwargs=g_kw, z_dim=m.z_dim, code_dim=o.k)
        D = build_network(
            "figan_d", base=d_base, base_kwargs=d_kw, cond_dim=o.k, mode=o.d_condition
        )
        return {"G": G, "D": D, "C": C.eval()}

    def fake_batch(self, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, Any]:
        z = ctx.sample_z(ctx.batch_size)
        bank = self.bank.to(z.device)
        idx = torch.randint(len(bank), (ctx.batch_size,), generator=ctx.rng, device=z.device)
        f = bank[idx]  # (N, k): features of training images, not a made-up prior
        return nets["G"](z, c=f), f

    def d_logits(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        return nets["D"](x, cond)

    def d_features(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        return nets["D"].features(x, cond)

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        def real_condition(loss):
            # GAN's game reads the real pair's condition from ctx.labels; FIGAN's is f
            def wrapped(ctx: StepContext) -> dict[str, Tensor]:
                if "f" in ctx.batch:
                    ctx.labels = ctx["f"]
                return loss(ctx)

            return wrapped

        phases = super().phases(cfg, nets)
        if cfg.options.matching_aware:
            phases = [
                dataclasses.replace(p, loss=self._matching_aware_d_loss(cfg, nets))
                if p.name == "D"
                else p
                for p in phases
            ]
        return [dataclasses.replace(p, loss=real_condition(p.loss)) for p in phases]

    def _matching_aware_d_loss(self, cfg: Config, nets: dict[str, nn.Module]):
        """GAN's D loss with s_w = D(x, f^) among the fakes (module docstring: GAN-CLS)."""
        if cfg.tricks.feature_matching or cfg.tricks.unrolled_steps:
            raise ConfigError(
                "options.matching_aware does not take tricks.feature_matching or unrolled_steps."
            )
        adv = tricks.AdversarialTerms.from_config(cfg, self.history)  # GAN's, same history
        D = nets["D"]

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            f = ctx.labels  # the real images' own features (set by real_condition)
            with torch.no_grad():  # the D step must not build G's graph
                fake, fake_f = self.fake_batch(nets, ctx)
            real_in, fake_in = adv.noisy(ctx.real, ctx), adv.noisy(fake, ctx)
            real_logits, fake_logits = D(real_in, f), D(fake_in, fake_f)
            adv.log_outputs(ctx, real_logits, fake_logits)
            wrong = D(real_in, f.roll(1, 0))  # s_w: each image under the next item's f
            if adv.family.probabilistic:
                ctx.log("D(x, wrong f)", d_probabilities(wrong))
            return adv.d_terms(
                ctx,
                real_logits,
                torch.cat([fake_logits, wrong]),
                lambda x: D(x, f),
                real_in,
                fake_in,
                ("D", D),
            )

        return d_loss

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        k = cfg.options.k
        return {
            "sample": sampler_export("G", self.layout(cfg, data), data),
            "features": Export(
                "C",
                "map",
                input={"kind": "image", "shape": list(data.shape)},
                output={"kind": "codes", "shape": [k]},
                ema=False,
                description="the frozen classifier's PCA-reduced features f (whitened)",
            ),
        }

    def preview(self, p: Any) -> None:
        """The grid of G(z_i, f_i), f_i the features of the first training images."""
        G = p.sampler()
        if G is None or self.bank is None:
            return
        n = len(p.fixed_z)
        f = self.bank[torch.arange(n) % len(self.bank)]
        p.image_grid(G.generate(p.fixed_z, c=f))


# Measured with benchmarks/figan_fashion.py (docs/figan.md): on seed 0 at 6000 steps the
# agreement of the classifier's prediction for G(z, f) with its prediction for the source image
# went from 0.861 (k=8, plain D) to 0.874 with k=10 and to 0.906 with k=10 and the matching-aware
# D; EMA moved it by under a point. k=10: the classifier's logits are an affine function of its
# 128 features, and its head on the features rebuilt from 10 principal components predicts the
# same class as on all 128 for 99.3% of the first 2000 test images (96.7% from 8).
register_preset(
    "figan-fashion",
    "FIGAN: conditional DCGAN G(z, f) on the Fashion-MNIST domain classifier's features "
    "(PCA k=10, matching-aware D); then `gankit explain RUN --from shirt --to t-shirt`",
    {
        "train.variant": "figan",
        "data.name": "fashion-mnist",
        "model.generator": "dcgan",
        "model.discriminator": "dcgan",
        "model.z_dim": 64,
        "model.g_channels": 32,
        "model.d_channels": 32,
        "options.k": 10,
        "options.matching_aware": True,
        "train.batch_size": 64,
        "train.lr_g": 2e-4,
        "train.lr_d": 2e-4,
        "train.ema": 0.999,  # about the last 1000 steps, a tenth of the run
        "train.steps": 10000,
        "log.n_fixed": 100,
        "log.sample_every": 0,
        "log.checkpoint_every": 1000,
    },
)
