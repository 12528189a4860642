"""Loss functions on logits, registered by name (DESIGN principle 1).

A loss family is a pair (d_loss(real_logits, fake_logits), g_loss(fake_logits)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from gankit.losses.adversarial import (
    d_minimax,
    d_probabilities,
    g_minimax,
    g_nonsaturating,
    value_function,
)
from gankit.registry import Registry


@dataclass(frozen=True)
class LossFamily:
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_losses: dict[str, Callable[[Tensor], Tensor]]  # generator objectives by name
    doc: str


LOSSES: Registry[LossFamily] = Registry("loss")
LOSSES.register("gan")(
    LossFamily(
        d_loss=d_minimax,
        g_losses={"nonsaturating": g_nonsaturating, "minimax": g_minimax},
        doc="Goodfellow et al. 2014: binary cross-entropy D; saturating or non-saturating G",
    )
)

__all__ = [
    "LOSSES",
    "LossFamily",
    "d_minimax",
    "d_probabilities",
    "g_minimax",
    "g_nonsaturating",
    "value_function",
]
