"""Noise priors p_z for the generator's input (lecture 002: normal, uniform, Student-t)."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import ConfigError

PRIORS = ("normal", "uniform", "student_t")


class NoisePrior:
    """Draws z ~ p_z with an explicit generator, so that a run's noise stream can be saved."""

    def __init__(self, kind: str, z_dim: int, df: float = 3.0):
        if kind not in PRIORS:
            raise ConfigError(f"unknown noise prior {kind!r}; valid: {', '.join(PRIORS)}.")
        if kind == "student_t" and df <= 0:
            raise ConfigError(f"model.prior_df={df} must be > 0 for the Student-t prior.")
        self.kind, self.z_dim, self.df = kind, z_dim, df

    def sample(
        self, n: int, generator: torch.Generator, device: torch.device | str = "cpu"
    ) -> Tensor:
        shape = (n, self.z_dim)
        if self.kind == "normal":
            return torch.randn(shape, generator=generator, device=device)
        if self.kind == "uniform":  # U[-1, 1]^d
            return torch.rand(shape, generator=generator, device=device) * 2 - 1
        # Student-t as N(0,1) / sqrt(chi2_df / df); chi2_df = 2 * Gamma(df / 2, 1).
        normal = torch.randn(shape, generator=generator, device=device)
        gamma = _standard_gamma(torch.full(shape, self.df / 2, device=device), generator)
        return normal / torch.sqrt(2 * gamma / self.df)


def _standard_gamma(alpha: Tensor, generator: torch.Generator) -> Tensor:
    """Gamma(alpha, 1) by Marsaglia & Tsang 2000 with the alpha < 1 boost, using ``generator``.

    torch's own gamma sampler takes no generator argument, which would make the noise stream
    impossible to save and restore exactly.
    """
    boost = alpha < 1
    a = torch.where(boost, alpha + 1, alpha)
    d = a - 1 / 3
    c = 1 / torch.sqrt(9 * d)
    out = torch.empty_like(a)
    todo = torch.ones_like(a, dtype=torch.bool)
    while todo.any():
        x = torch.randn(a.shape, generator=generator, device=a.device)
        u = torch.rand(a.shape, generator=generator, device=a.device)
        v = (1 + c * x) ** 3
        ok = (v > 0) & (
            torch.log(u.clamp_min(1e-38))
            < 0.5 * x**2 + d - d * v + d * torch.log(v.clamp_min(1e-38))
        )
        take = todo & ok
        out[take] = (d * v)[take]
        todo &= ~ok
    if boost.any():
        u = torch.rand(a.shape, generator=generator, device=a.device)
        out = torch.where(boost, out * u ** (1 / alpha), out)
    return out
