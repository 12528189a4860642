"""Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks" (CycleGAN).

Two translators G_AB: A -> B and G_BA: B -> A and two discriminators, D_B judging B against
G_AB(a) and D_A judging A against G_BA(b), trained on unpaired samples of the two domains
(the dataset's fields ``a`` and ``b``, drawn independently). The full objective (Eq. 3):

    L = L_GAN(G_AB, D_B) + L_GAN(G_BA, D_A) + lambda L_cyc(G_AB, G_BA),
    L_cyc = E_a ||G_BA(G_AB(a)) - a||_1 + E_b ||G_AB(G_BA(b)) - b||_1          (Eq. 2)

with the least-squares GAN loss (Sec. 4, "Training details"; train.loss=lsgan in the presets)
and lambda = 10 (``options.lambda_cycle``). The optional identity term of Sec. 5.2,
E_b ||G_AB(b) - b||_1 + E_a ||G_BA(a) - a||_1, needs both domains in one space
(``options.lambda_identity``; the paper uses 0.5 lambda for photo <-> painting). Each
discriminator gets its own tricks.AdversarialTerms (instance noise, label smoothing, ...).
Not here yet: the paper's buffer of 50 past translations for D.

Exports ``apply`` (G_AB), ``apply_ba`` (G_BA) and ``cycle_a``, the round trip G_BA(G_AB(a))
as a registered composite (gankit.networks.composite); there is no noise sampler.
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
from gankit.presets import TOY, register_preset
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant


@VARIANT_OPTIONS.register("cyclegan")
@dataclass
class CycleGANOptions:
    lambda_cycle: float = 10.0  # lambda of L_cyc (Eq. 3)
    lambda_identity: float = 0.0  # weight of the identity term (Sec. 5.2); 0 = off

    def validate(self) -> None:
        if self.lambda_cycle < 0 or self.lambda_identity < 0:
            raise ConfigError("options.lambda_cycle and options.lambda_identity must be >= 0.")


@VARIANTS.register("cyclegan")
class CycleGAN(Variant):
    name = "cyclegan"
    ema_modules = ("G_AB", "G_BA")
    applies = "translate A -> B (apply), B -> A (--export apply_ba), A -> B -> A (cycle_a)"

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        if "b" not in data.unpaired and "b" not in data.fields:
            raise ConfigError(
                f"cyclegan needs two domains (fields a and b); dataset {data.name!r} has "
                f"{', '.join(data.field_names)}. Use data.name=ring-grid."
            )
        if data.kind != "vector":
            raise ConfigError("cyclegan takes vector domains (data.name=ring-grid) for now.")
        m, (dim,) = cfg.model, data.shape
        size = {"hidden": m.hidden, "layers": m.layers}
        translator = {"in_dim": dim, "out_dim": dim, **size}
        judge = {"in_shape": [dim], **size, **tricks.discriminator_options(cfg)}
        return {
            "G_AB": build_network("mlp", **translator),
            "G_BA": build_network("mlp", **translator),
            "D_A": build_network("mlp_d", **judge),
            "D_B": build_network("mlp_d", **judge),
        }

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, o = cfg.train, cfg.options
        for d in ("D_A", "D_B"):
            tricks.check_tricks(cfg, nets[d], None, names=(d, "G_AB"))
        self.history = tricks.history_from(cfg)
        adv_a = tricks.AdversarialTerms.from_config(cfg, self.history, prefix="_A")
        adv_b = tricks.AdversarialTerms.from_config(cfg, self.history, prefix="_B")
        G_AB, G_BA, D_A, D_B = (nets[k] for k in ("G_AB", "G_BA", "D_A", "D_B"))

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            a, b = ctx["a"], ctx["b"]
            with torch.no_grad():
                fake_b, fake_a = G_AB(a), G_BA(b)
            terms = {}
            for adv, D, name, real, fake in (
                (adv_b, D_B, "D_B", b, fake_b),
                (adv_a, D_A, "D_A", a, fake_a),
            ):
                real_in, fake_in = adv.noisy(real, ctx), adv.noisy(fake, ctx)
                real_logits, fake_logits = D(real_in), D(fake_in)
                adv.log_outputs(ctx, real_logits, fake_logits, names=("real", "fake"))
                terms.update(
                    adv.d_terms(ctx, real_logits, fake_logits, D, real_in, fake_in, (name, D))
                )
            return terms

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            a, b = ctx["a"], ctx["b"]
            fake_b, fake_a = G_AB(a), G_BA(b)
            terms = {
                **adv_b.g_terms(ctx, D_B(adv_b.noisy(fake_b, ctx)), ("G_AB", G_AB)),
                **adv_a.g_terms(ctx, D_A(adv_a.noisy(fake_a, ctx)), ("G_BA", G_BA)),
            }
            cycle = (G_BA(fake_b) - a).abs().mean() + (G_AB(fake_a) - b).abs().mean()
            terms["g_cycle"] = o.lambda_cycle * cycle  # Eq. 2
            if o.lambda_identity:
                identity = (G_AB(b) - b).abs().mean() + (G_BA(a) - a).abs().mean()
                terms["g_identity"] = o.lambda_identity * identity
            return terms

        betas = (t.beta1, t.beta2)
        return [
            Phase("D", ["D_A", "D_B"], d_loss, lr=t.lr_d, betas=betas, repeat=t.d_steps),
            Phase("G", ["G_AB", "G_BA"], g_loss, lr=t.lr_g, betas=betas),
        ]

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        point = {"kind": data.kind, "shape": list(data.shape)}
        return {
            "apply": Export("G_AB", "map", point, point, description="translate A -> B"),
            "apply_ba": Export("G_BA", "map", point, point, description="translate B -> A"),
            "cycle_a": Export(  # a registered composite: G_BA(G_AB(a)), what L_cyc compares
                "cycle_a",
                "map",
                point,
                point,
                composite="chain",
                parts={"0": "G_AB", "1": "G_BA"},
                description="round trip A -> B -> A",
            ),
        }

    def preview(self, p: Any) -> None:
        """Points of A, their translations G_AB(a) and points of B."""
        b = p.data.unpaired.get("b", p.data.fields.get("b"))
        p.translation("apply", p.data.x[:500], b[:500])


register_preset(
    "cyclegan-ring-grid",
    "CycleGAN between the 8-Gaussian ring and the 5x5 grid, unpaired; ~1 CPU minute",
    {
        **TOY,
        "train.variant": "cyclegan",
        "data.name": "ring-grid",
        "train.loss": "lsgan",  # Zhu et al. 2017, Sec. 4
        "train.steps": 3000,
        "tricks.instance_noise": 0.05,
        "log.sample_every": 250,
    },
)
