"""Exponential moving average of the generator's weights.

Karras et al. 2018 (Progressive GAN) and Yazıcı et al. 2019 ("The Unusual Effectiveness of
Averaging in GAN Training"): theta_ema <- beta * theta_ema + (1 - beta) * theta after every
generator step. Buffers (BatchNorm running statistics) are copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, net: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        ema_params = list(self.module.parameters())
        params = [p.detach() for p in net.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        for b_ema, b in zip(self.module.buffers(), net.buffers()):
            b_ema.copy_(b)
