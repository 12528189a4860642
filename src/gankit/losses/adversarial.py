"""Adversarial losses as pure functions on discriminator logits.

Goodfellow et al. 2014, Eq. 1: V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))], with
D(x) = sigmoid(logit). Everything is computed from logits with softplus, which is stable
where log(sigmoid(.)) would underflow:  log D = -softplus(-l),  log(1 - D) = -softplus(l).
All losses are to be *minimised* by the network they train.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def value_function(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """V(D, G) of Goodfellow et al. 2014, Eq. 1, estimated on one minibatch.

    D ascends V; the saturating (minimax) G descends it.
    """
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


def d_minimax(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator loss -V(D, G): binary cross-entropy with real=1, fake=0 (Algorithm 1)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_minimax(fake_logits: Tensor) -> Tensor:
    """Saturating generator loss E_z[log(1 - D(G(z)))], exactly the G term of V(D, G).

    Its gradient vanishes when D confidently rejects G's samples, which is why
    Goodfellow et al. 2014 (Sec. 3) suggest the non-saturating form early in training.
    """
    return -F.softplus(fake_logits).mean()


def g_nonsaturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss -E_z[log D(G(z))] (Goodfellow et al. 2014, Sec. 3)."""
    return F.softplus(-fake_logits).mean()


def d_probabilities(logits: Tensor) -> Tensor:
    """Mean D output (a probability) of a batch, for logging D(x) and D(G(z))."""
    return torch.sigmoid(logits.detach()).mean()
