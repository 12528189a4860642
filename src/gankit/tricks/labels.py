"""Targets of the discriminator: label smoothing, soft labels, noisy labels."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.config import TricksConfig
from gankit.losses.compat import LABEL_TRICKS


def d_targets(
    k: TricksConfig, n_real: int, n_fake: int, device: torch.device, rng: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Per-decision targets of D: real 1, fake 0, then

    * one-sided label smoothing: real 1 - s (Salimans et al. 2016, Sec. 3.4; fakes stay at 0,
      because smoothing them would reward G's samples where p_data is 0);
    * soft labels: real - w u, fake + w u with u ~ U[0, 1] per sample (Chintala et al. 2016);
    * noisy labels: each target t becomes 1 - t with probability p (Chintala et al. 2016).
    """

    def uniform(n: int) -> Tensor:
        return torch.rand(n, generator=rng, device=device)

    real = torch.full((n_real,), 1.0 - k.label_smoothing, device=device)
    fake = torch.zeros(n_fake, device=device)
    if k.soft_labels:
        real = real - k.soft_labels * uniform(n_real)
        fake = fake + k.soft_labels * uniform(n_fake)
    if k.label_flip:
        real = torch.where(uniform(n_real) < k.label_flip, 1 - real, real)
        fake = torch.where(uniform(n_fake) < k.label_flip, 1 - fake, fake)
    return real, fake


def uses_targets(k: TricksConfig) -> bool:
    return any(getattr(k, key) for key in LABEL_TRICKS)
