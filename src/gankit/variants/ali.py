"""Dumoulin et al. 2016, "Adversarially Learned Inference" (ALI): BiGAN's game with a
stochastic encoder.

The game is BiGAN's (gankit.variants.bigan): D judges joint pairs (x, z) ~ q(x) q(z|x) against
(x, z) ~ p(z) p(x|z), and G and E minimise D's loss with the labels swapped (ALI Sec. 2, Eq. 1;
the non-saturating form of Sec. 3). What ALI adds is the encoder q(z|x): a Gaussian whose
mean and log-variance the network E outputs, sampled with the reparameterisation trick so
that D's gradient reaches both moments (Sec. 3, "the reparametrization trick"):

    z = mu(x) + sigma(x) * eps,   sigma(x) = exp(logvar(x) / 2),   eps ~ N(0, I).

eps is drawn from the run's saved noise stream (``ctx.rng``), so a resumed run draws the same
codes. After training the ``apply`` export writes the posterior mean mu(x): deterministic
codes. Sec. 4.1 / Appendix (the 25-Gaussian grid) is reproduced by ``ali-grid``
(benchmarks/ali_grid.py, docs/benchmarks.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.exports import Export
from gankit.presets import TOY, register_preset
from gankit.variants.base import VARIANTS, StepContext
from gankit.variants.bigan import FASHION, BiGAN


@VARIANTS.register("ali")
class ALI(BiGAN):
    name = "ali"
    applies = "encode data to latent codes: the posterior mean mu(x) of q(z|x)"
    # q(z|x): E(x) = (mu, logvar), each (N, z_dim) (mlp_gauss for vectors, conv_e for images);
    # BiGAN's G and D(x, z) around it
    gaussian = True

    def encode(self, E: nn.Module, x: Tensor, ctx: StepContext | None = None) -> Tensor:
        """z ~ q(z|x) by reparameterisation during training; mu(x) outside it (ctx None)."""
        mu, logvar = E(x)
        if ctx is None:
            return mu
        eps = torch.randn(mu.shape, generator=ctx.rng, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        out = super().exports(cfg, data)
        out["apply"] = dataclasses.replace(
            out["apply"], call="mean", description="encode data to the posterior mean mu(x)"
        )
        return out


# The grid of Sec. 4.1 (25 Gaussians on {-4, ..., 4}^2, std 0.05). The paper tuned learning
# rates at random over 10 runs and does not list its MLPs; these are the toy MLPs (3 x 128,
# 2-D z) with toy-grid-best's schedule: instance noise 0.5 on x (a quarter of the grid's
# spacing) annealed to 0 by step 8000, lr decay over the last half. The same budget as
# toy-grid-best, so that benchmarks/ali_grid.py compares ALI, BiGAN and GAN at equal settings.
_GRID = {
    **TOY,
    "data.name": "grid",
    "train.steps": 12000,
    "train.lr_decay": 0.5,
    "tricks.instance_noise": 0.5,
    "tricks.instance_noise_steps": 8000,
    "log.sample_every": 1000,
}
register_preset(
    "ali-grid",
    "ALI on the 25-Gaussian grid: G(z), a Gaussian encoder q(z|x) and D on (x, z); ~2 CPU min",
    {**_GRID, "train.variant": "ali"},
)
register_preset(
    "bigan-grid",
    "BiGAN on the 25-Gaussian grid with ali-grid's settings (deterministic encoder)",
    {**_GRID, "train.variant": "bigan"},
)
register_preset(
    "ali-fashion",
    "ALI on Fashion-MNIST 28x28: bigan-fashion with a Gaussian encoder q(z|x); ~8 CPU minutes",
    {**FASHION, "train.variant": "ali"},
)
