"""The adversarial loss terms of one discriminator, with the configured tricks applied.

Any variant uses one :class:`AdversarialTerms` per discriminator it trains (a GAN's D, a
BiGAN's D(x, z), each of a CycleGAN's D_A and D_B), whatever its inputs are:

    adv = AdversarialTerms.from_config(cfg, history)            # once, in phases()
    real_in, fake_in = adv.noisy(real, ctx), adv.noisy(fake, ctx)  # instance noise
    terms = adv.d_terms(ctx, D(real_in), D(fake_in), judge=D, real_in=real_in,
                        fake_in=fake_in, module=("D", nets["D"]))
    terms = adv.g_terms(ctx, D(adv.noisy(fake, ctx)), module=("G", nets["G"]))

so label smoothing, soft and noisy labels, instance noise, DiffAugment, gradient penalties,
R1 and historical averaging need no code in the variant. Tricks that live in a network (packing,
minibatch discrimination, spectral norm, VBN) are constructor options (tricks.networks);
feature matching and unrolling change G's objective and stay in the GAN game (variants/gan.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from gankit.config import Config, TrainConfig, TricksConfig
from gankit.losses import (
    LOSSES,
    LossFamily,
    d_probabilities,
    gradient_penalty,
    interpolation_weights,
    r1_penalty,
)
from gankit.losses.compat import gp_weight
from gankit.tricks.diffaugment import diff_augment, parse_policy
from gankit.tricks.history import HistoricalAverage
from gankit.tricks.labels import d_targets, uses_targets
from gankit.tricks.noise import add_noise, instance_noise_std

Judge = Callable[[Tensor], Tensor]


@dataclass
class AdversarialTerms:
    family: LossFamily  # the loss family (train.loss)
    g_objective: Callable[[Tensor], Tensor]  # G's loss on fake logits (train.g_loss)
    tricks: TricksConfig
    train: TrainConfig  # read when used: --epochs sets train.steps after the phases exist
    history: HistoricalAverage | None = None  # shared by the players of one run
    prefix: str = ""  # added to term names when a variant has several discriminators

    @classmethod
    def from_config(
        cls, cfg: Config, history: HistoricalAverage | None = None, prefix: str = ""
    ) -> AdversarialTerms:
        family = LOSSES.get(cfg.train.loss)
        g_objective = family.g_objective(cfg.train.g_loss)
        return cls(family, g_objective, cfg.tricks, cfg.train, history, prefix)

    # --- inputs ------------------------------------------------------------------------------
    def noise_std(self, step: int) -> float:
        """Instance noise sigma at ``step``, annealed over the run (tricks.noise)."""
        return instance_noise_std(self.tricks, step, self.train.steps)

    def noisy(self, x: Tensor, ctx) -> Tensor:
        """What D sees of ``x``: DiffAugment's T(x) (Zhao et al. 2020) where
        tricks.diffaugment names a policy, then instance noise of this step's sigma (Sonderby
        et al. 2016), both drawn from the run's saved noise stream; ``x`` itself when both
        are off. Variants pass every D input, real and fake, in D's and G's steps, through
        here, which is where DiffAugment must act (Eq. 3-4 of its paper)."""
        x = diff_augment(x, parse_policy(self.tricks.diffaugment), ctx.rng)
        return add_noise(x, self.noise_std(ctx.step), ctx.rng)

    # --- losses ------------------------------------------------------------------------------
    def d_terms(
        self,
        ctx,
        real_logits: Tensor,
        fake_logits: Tensor,
        judge: Judge | None = None,
        real_in: Tensor | None = None,
        fake_in: Tensor | None = None,
        module: tuple[str, nn.Module] | None = None,
    ) -> dict[str, Tensor]:
        """D's adversarial loss (with smoothed / soft / flipped targets where configured),
        and, given ``judge`` (D as a function of its input) and the inputs it judged, the
        gradient penalty and R1; historical averaging of ``module`` (name, network)."""
        p, k, family = self.prefix, self.tricks, self.family
        if uses_targets(k):  # smoothed, soft or flipped labels
            t_real, t_fake = d_targets(
                k, len(real_logits), len(fake_logits), real_logits.device, ctx.rng
            )
            terms = {f"d{p}_adv": family.d_loss_targets(real_logits, fake_logits, t_real, t_fake)}
        else:
            terms = {f"d{p}_adv": family.d_loss(real_logits, fake_logits)}
        gp, r1 = gp_weight(k, family), k.r1_weight
        if (gp > 0 or r1 > 0) and (judge is None or real_in is None or fake_in is None):
            raise ValueError("gradient penalties need judge, real_in and fake_in")
        if gp > 0:  # Gulrajani et al. 2017: lambda E[(||grad D(x_hat)|| - 1)^2]
            eps = interpolation_weights(real_in, ctx.rng)
            terms[f"d{p}_gp"] = gp * gradient_penalty(judge, real_in, fake_in, eps)
        if r1 > 0:  # Mescheder et al. 2018, Eq. 9: gamma / 2 E||grad D(x)||^2
            terms[f"d{p}_r1"] = 0.5 * r1 * r1_penalty(judge, real_in)
        if self.history is not None and module is not None:
            terms[f"d{p}_hist"] = self.history.term(*module)
        return terms

    def g_terms(
        self, ctx, fake_logits: Tensor | None, module: tuple[str, nn.Module] | None = None
    ) -> dict[str, Tensor]:
        """G's adversarial loss on D's logits of its samples (none when ``fake_logits`` is
        None: feature matching replaced it), and historical averaging of ``module``."""
        p = self.prefix
        terms = {} if fake_logits is None else {f"g{p}_adv": self.g_objective(fake_logits)}
        if self.history is not None and module is not None:
            terms[f"g{p}_hist"] = self.history.term(*module)
        return terms

    def log_outputs(self, ctx, real_logits: Tensor, fake_logits: Tensor, names=("x", "G(z)")):
        """D(x) and D(G(z)) as probabilities where the loss has them, else critic scores."""
        real, fake = names
        if self.family.probabilistic:
            ctx.log(f"D{self.prefix}({real})", d_probabilities(real_logits))
            ctx.log(f"D{self.prefix}({fake})", d_probabilities(fake_logits))
        else:
            ctx.log(f"critic{self.prefix}({real})", real_logits.mean())
            ctx.log(f"critic{self.prefix}({fake})", fake_logits.mean())


def history_from(cfg: Config) -> HistoricalAverage | None:
    """The run's historical average when tricks.historical_averaging is on."""
    w = cfg.tricks.historical_averaging
    return HistoricalAverage(w) if w else None
