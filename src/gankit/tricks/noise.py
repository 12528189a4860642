"""Instance noise on the discriminator's inputs, annealed by the step."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.config import TricksConfig


def instance_noise_std(k: TricksConfig, step: int, total_steps: int) -> float:
    """sigma(step) of instance noise, annealed from ``k.instance_noise`` to 0 over
    ``k.instance_noise_steps`` steps (or the whole run): Sonderby et al. 2016, "Amortised MAP
    Inference for Image Super-resolution", Sec. 3.2 (noise on real and fake D inputs makes
    the two distributions overlap; it is annealed because it biases the optimum).

    linear: 1 - f; cosine: (1 + cos(pi f)) / 2; exponential: 0.01^f, with f = step / steps
    and 0 from the last step on. A pure function of the step, so resume is exact.
    """
    if k.instance_noise <= 0:
        return 0.0
    span = k.instance_noise_steps or total_steps
    if step >= span:
        return 0.0
    f = step / span
    shape = {
        "linear": 1.0 - f,
        "cosine": 0.5 * (1.0 + math.cos(math.pi * f)),
        "exponential": 0.01**f,
    }[k.instance_noise_schedule]
    return k.instance_noise * shape


def add_noise(x: Tensor, std: float, rng: torch.Generator | None) -> Tensor:
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, generator=rng, device=x.device, dtype=x.dtype)
