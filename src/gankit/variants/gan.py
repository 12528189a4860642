"""Goodfellow et al. 2014, "Generative Adversarial Nets": the minimax game on MLPs.

Algorithm 1: for each training iteration, k times: sample m noise vectors and m real
examples and ascend the discriminator's value V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))];
then sample m fresh noise vectors and descend the generator's objective, either the
saturating log(1 - D(G(z))) of V itself or the non-saturating -log D(G(z)) (Sec. 3).

Subclasses change the networks (:meth:`build`) and, for conditional models, how fakes are
made and judged (:meth:`fake_batch`, :meth:`d_logits`) or extra loss terms
(:meth:`extra_d_terms`, :meth:`extra_g_terms`); the game itself stays here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.errors import ConfigError
from gankit.losses import LOSSES, d_probabilities
from gankit.networks import build_network
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant


@VARIANTS.register("gan")
class GAN(Variant):
    name = "gan"

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        m = cfg.model
        G = build_network("mlp_g", z_dim=m.z_dim, out_shape=list(data.shape), hidden=m.hidden,
                          layers=m.layers, tanh=data.kind == "image")
        D = build_network("mlp_d", in_shape=list(data.shape), hidden=m.hidden, layers=m.layers)
        return {"G": G, "D": D}

    # --- hooks for subclasses -----------------------------------------------------------------
    def fake_batch(self, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, Any]:
        """(G(z), whatever the discriminator needs to judge it: labels, codes or None)."""
        return nets["G"](ctx.sample_z(ctx.batch_size)), None

    def d_logits(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        """D's logits for ``x`` given the condition returned with it (None here)."""
        return nets["D"](x)

    def extra_d_terms(self, nets, ctx, real: Tensor, fake: Tensor, fake_cond: Any
                      ) -> dict[str, Tensor]:
        return {}

    def extra_g_terms(self, nets, ctx, fake: Tensor, fake_cond: Any) -> dict[str, Tensor]:
        return {}

    # --- the game ---------------------------------------------------------------------------
    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t = cfg.train
        family = LOSSES.get(t.loss)
        if t.g_loss not in family.g_losses:
            raise ConfigError(f"train.g_loss={t.g_loss!r} does not exist for loss {t.loss!r}; "
                              f"valid: {', '.join(family.g_losses)}.")
        g_objective = family.g_losses[t.g_loss]

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            with torch.no_grad():  # the D step must not build G's graph
                fake, fake_cond = self.fake_batch(nets, ctx)
            real_logits = self.d_logits(nets, ctx.real, ctx.labels)
            fake_logits = self.d_logits(nets, fake, fake_cond)
            ctx.log("D(x)", d_probabilities(real_logits))
            ctx.log("D(G(z))", d_probabilities(fake_logits))
            return {"d_adv": family.d_loss(real_logits, fake_logits),
                    **self.extra_d_terms(nets, ctx, ctx.real, fake, fake_cond)}

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            fake, fake_cond = self.fake_batch(nets, ctx)  # fresh noise, as in Algorithm 1
            return {"g_adv": g_objective(self.d_logits(nets, fake, fake_cond)),
                    **self.extra_g_terms(nets, ctx, fake, fake_cond)}

        betas = (t.beta1, t.beta2)
        return [
            Phase("D", ["D"], d_loss, lr=t.lr_d, betas=betas, repeat=t.d_steps),
            Phase("G", ["G"], g_loss, lr=t.lr_g, betas=betas, uses_data=False),
        ]
