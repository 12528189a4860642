"""Goodfellow et al. 2014, "Generative Adversarial Nets": the minimax game on MLPs.

Algorithm 1: for each training iteration, k times: sample m noise vectors and m real
examples and ascend the discriminator's value V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))];
then sample m fresh noise vectors and descend the generator's objective, either the
saturating log(1 - D(G(z))) of V itself or the non-saturating -log D(G(z)) (Sec. 3).

The same game is played with the other loss families (train.loss: lsgan, wgan, wgan-gp,
hinge) and with the stabilisation tricks of gankit.tricks (section ``tricks``): the loss
terms of the one discriminator come from tricks.AdversarialTerms, as in every other variant.

Subclasses change the networks (:meth:`build`) and, for conditional models, how fakes are
made and judged (:meth:`fake_batch`, :meth:`d_logits`, :meth:`d_features`) or extra loss
terms (:meth:`extra_d_terms`, :meth:`extra_g_terms`); the game itself stays here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit import tricks
from gankit.config import Config
from gankit.losses import LossFamily
from gankit.networks import build_network
from gankit.nn.pack import pack, unpack_repeat
from gankit.noise import NoisePrior
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant


@VARIANTS.register("gan")
class GAN(Variant):
    name = "gan"
    history: tricks.HistoricalAverage | None = None  # trick state, saved in checkpoints

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        m = cfg.model
        G = build_network(
            "mlp_g",
            z_dim=m.z_dim,
            out_shape=list(data.shape),
            hidden=m.hidden,
            layers=m.layers,
            tanh=data.kind == "image",
            **tricks.generator_options(cfg),
        )
        D = build_network(
            "mlp_d",
            in_shape=list(data.shape),
            hidden=m.hidden,
            layers=m.layers,
            **tricks.discriminator_options(cfg),
        )
        return {"G": G, "D": D}

    # --- hooks for subclasses -----------------------------------------------------------------
    def fake_batch(self, nets: dict[str, nn.Module], ctx: StepContext) -> tuple[Tensor, Any]:
        """(G(z), whatever the discriminator needs to judge it: labels, codes or None)."""
        return nets["G"](ctx.sample_z(ctx.batch_size)), None

    def d_logits(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        """D's logits for ``x`` given the condition returned with it (None here)."""
        return nets["D"](x)

    def judge(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> tuple[Tensor, Any]:
        """One pass of D over ``x``: its logits and the output of an extra head on the same
        body (AC-GAN's classifier, InfoGAN's Q), or None where D has none."""
        return self.d_logits(nets, x, cond), None

    def d_features(self, nets: dict[str, nn.Module], x: Tensor, cond: Any) -> Tensor:
        """D's last hidden layer for ``x``, (N / pack, F): what feature matching compares."""
        D = nets["D"]
        return D.features(pack(x, getattr(D, "pack", 1))).flatten(1)

    def extra_d_terms(
        self, nets, ctx, real: Tensor, fake: Tensor, fake_cond: Any, real_head=None, fake_head=None
    ) -> dict[str, Tensor]:
        """More terms for D's loss; ``*_head``: the extra head's outputs of D's one pass."""
        return {}

    def extra_g_terms(
        self, nets, ctx, fake: Tensor, fake_cond: Any, fake_head=None
    ) -> dict[str, Tensor]:
        """More terms for G's loss; ``fake_head``: the extra head's output on G's samples
        from the pass that judged them (None when feature matching replaced that pass)."""
        return {}

    # --- the game ---------------------------------------------------------------------------
    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        t, k = cfg.train, cfg.tricks
        tricks.check_tricks(cfg, nets["D"], nets["G"], names=("D", "G"))
        self.history = tricks.history_from(cfg)
        adv = tricks.AdversarialTerms.from_config(cfg, self.history)
        family = adv.family
        prior = NoisePrior(cfg.model.prior, cfg.model.z_dim, cfg.model.prior_df)
        tricks.init_vbn_reference(nets["G"], lambda n, gen: prior.sample(n, gen), t.seed + 5)
        betas = (t.beta1, t.beta2)

        def d_loss(ctx: StepContext) -> dict[str, Tensor]:
            with torch.no_grad():  # the D step must not build G's graph
                fake, fake_cond = self.fake_batch(nets, ctx)
            real_in, fake_in = adv.noisy(ctx.real, ctx), adv.noisy(fake, ctx)
            # one pass of D per batch: the logits and any extra head's outputs
            real_logits, real_head = self.judge(nets, real_in, ctx.labels)
            fake_logits, fake_head = self.judge(nets, fake_in, fake_cond)
            adv.log_outputs(ctx, real_logits, fake_logits)

            def judge(x: Tensor) -> Tensor:  # D as a function of its input, for penalties
                return self.d_logits(nets, x, ctx.labels)

            terms = adv.d_terms(
                ctx, real_logits, fake_logits, judge, real_in, fake_in, ("D", nets["D"])
            )
            extra = self.extra_d_terms(
                nets, ctx, ctx.real, fake, fake_cond, real_head=real_head, fake_head=fake_head
            )
            return {**terms, **extra}

        def g_loss(ctx: StepContext) -> dict[str, Tensor]:
            fake, fake_cond = self.fake_batch(nets, ctx)  # fresh noise, as in Algorithm 1
            if k.feature_matching:  # Salimans et al. 2016, Sec. 3.1: a new objective for G
                fm = tricks.feature_matching_loss(
                    self.d_features(nets, adv.noisy(ctx.real, ctx), ctx.labels),
                    self.d_features(nets, adv.noisy(fake, ctx), fake_cond),
                )
                terms = {"g_fm": fm, **adv.g_terms(ctx, None, ("G", nets["G"]))}
                head = None
            else:
                judges = nets
                if k.unrolled_steps:  # Metz et al. 2016: judge G by D after K more steps
                    judges = self._unrolled(
                        nets, family, ctx, fake, fake_cond, k.unrolled_steps, t.lr_d, betas
                    )
                logits, head = self.judge(judges, adv.noisy(fake, ctx), fake_cond)
                terms = adv.g_terms(ctx, logits, ("G", nets["G"]))
            return {**terms, **self.extra_g_terms(nets, ctx, fake, fake_cond, fake_head=head)}

        clip = tricks.clip_value(k, family)
        return [
            Phase(
                "D",
                ["D"],
                d_loss,
                lr=t.lr_d,
                betas=betas,
                repeat=t.d_steps,
                after_step=tricks.weight_clipper(nets["D"], clip) if clip else None,
            ),
            # feature matching and unrolling need real data in the generator's step too
            Phase(
                "G",
                ["G"],
                g_loss,
                lr=t.lr_g,
                betas=betas,
                uses_data=k.feature_matching or k.unrolled_steps > 0,
            ),
        ]

    def _unrolled(
        self,
        nets,
        family: LossFamily,
        ctx: StepContext,
        fake: Tensor,
        fake_cond: Any,
        steps: int,
        lr: float,
        betas: tuple[float, float],
    ) -> dict[str, nn.Module]:
        """``nets`` with D replaced by D after ``steps`` differentiable Adam updates on this
        batch, continuing D's optimizer state."""

        def d_loss_of(D: nn.Module) -> Tensor:
            view = {**nets, "D": D}
            return family.d_loss(
                self.d_logits(view, ctx.real, ctx.labels), self.d_logits(view, fake, fake_cond)
            )

        D, opt = nets["D"], ctx.optimizers.get("D")
        return {**nets, "D": tricks.unroll(D, d_loss_of, steps, opt, lr, betas)}

    # --- trick state and pictures --------------------------------------------------------------
    def discriminate(self, nets: dict[str, nn.Module], x: Tensor) -> Tensor:
        """D's logit at each point of ``x``; a packing D judges packs of m copies of the point.
        Chunks of 128 points keep minibatch discrimination (cost ~ batch^2) affordable."""
        m = getattr(nets["D"], "pack", 1)
        return torch.cat([nets["D"](unpack_repeat(c, m)) for c in x.split(128)])
