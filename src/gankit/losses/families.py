"""Adversarial loss families beside Goodfellow's: least squares, Wasserstein, hinge.

Pure functions on the discriminator's raw outputs (its "logits"; for the Wasserstein and hinge
families they are critic scores, not log-odds). Every function returns a loss that the network
it trains *minimises*, averaged over the batch.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


# --- Goodfellow et al. 2014 with soft targets ----------------------------------------------------
def d_minimax_targets(
    real_logits: Tensor, fake_logits: Tensor, real_target: Tensor, fake_target: Tensor
) -> Tensor:
    """Binary cross-entropy of D against targets t in [0, 1] instead of the hard 1 / 0.

    BCE(l, t) = t softplus(-l) + (1 - t) softplus(l) = -[t log D + (1 - t) log(1 - D)]; with
    t_real = 1 and t_fake = 0 it is Goodfellow et al. 2014, Eq. 1 (negated). Soft targets are
    one-sided label smoothing (Salimans et al. 2016, Sec. 3.4) and soft / noisy labels.
    """
    real = real_target * F.softplus(-real_logits) + (1 - real_target) * F.softplus(real_logits)
    fake = fake_target * F.softplus(-fake_logits) + (1 - fake_target) * F.softplus(fake_logits)
    return real.mean() + fake.mean()


# --- Mao et al. 2017, "Least Squares Generative Adversarial Networks" ---------------------------
def d_least_squares(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """LSGAN discriminator loss, Mao et al. 2017, Eq. 2 with the 0-1 coding a=0, b=1:

    1/2 E_x[(D(x) - b)^2] + 1/2 E_z[(D(G(z)) - a)^2].
    """
    return d_least_squares_targets(real_logits, fake_logits, 1.0, 0.0)


def d_least_squares_targets(
    real_logits: Tensor,
    fake_logits: Tensor,
    real_target: Tensor | float,
    fake_target: Tensor | float,
) -> Tensor:
    """Mao et al. 2017, Eq. 2 with the codes b (real) and a (fake) given per sample."""
    return (
        0.5 * ((real_logits - real_target) ** 2).mean()
        + 0.5 * ((fake_logits - fake_target) ** 2).mean()
    )


def g_least_squares(fake_logits: Tensor) -> Tensor:
    """LSGAN generator loss, Mao et al. 2017, Eq. 2 with c = 1: 1/2 E_z[(D(G(z)) - c)^2]."""
    return 0.5 * ((fake_logits - 1.0) ** 2).mean()


# --- Arjovsky et al. 2017, "Wasserstein GAN" ------------------------------------------------------
def d_wasserstein(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Critic loss E_z[f(G(z))] - E_x[f(x)]: the negated estimate of the Wasserstein-1 distance
    of Arjovsky et al. 2017, Eq. 3 / Algorithm 1 (the critic ascends E f(x) - E f(G(z)))."""
    return fake_logits.mean() - real_logits.mean()


def g_wasserstein(fake_logits: Tensor) -> Tensor:
    """Generator loss -E_z[f(G(z))] (Arjovsky et al. 2017, Algorithm 1, line 10)."""
    return -fake_logits.mean()


# --- Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, Eq. 16-17 ------------------------------
def d_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge discriminator loss E_x[max(0, 1 - D(x))] + E_z[max(0, 1 + D(G(z)))]
    (Miyato et al. 2018, Eq. 16)."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_hinge(fake_logits: Tensor) -> Tensor:
    """Hinge generator loss -E_z[D(G(z))] (Miyato et al. 2018, Eq. 17)."""
    return -fake_logits.mean()
