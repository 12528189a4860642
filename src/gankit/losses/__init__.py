"""Loss functions on logits, registered by name (DESIGN principle 1).

A loss family is D's loss ``d_loss(real_logits, fake_logits)`` plus the generator objectives
that go with it, and flags that say which tricks make sense for it:

* ``d_loss_targets``: the same D loss against per-sample targets (label smoothing, soft and
  noisy labels); None where D has no target labels (Wasserstein, hinge);
* ``probabilistic``: sigmoid(logit) is D's probability that x is real, so D(x) and D(G(z)) are
  logged as probabilities; otherwise the raw critic scores are logged;
* ``needs_weight_clip`` / ``needs_gradient_penalty``: the Lipschitz constraint of WGAN
  (Arjovsky et al. 2017) or WGAN-GP (Gulrajani et al. 2017), applied by the variant.
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
from gankit.losses.families import (
    d_hinge,
    d_least_squares,
    d_least_squares_targets,
    d_minimax_targets,
    d_wasserstein,
    g_hinge,
    g_least_squares,
    g_wasserstein,
)
from gankit.losses.regularizers import gradient_penalty, interpolation_weights, r1_penalty
from gankit.registry import Registry


@dataclass(frozen=True)
class LossFamily:
    d_loss: Callable[[Tensor, Tensor], Tensor]
    # generator objectives by name; "nonsaturating" is each family's standard objective
    g_losses: dict[str, Callable[[Tensor], Tensor]]
    doc: str
    d_loss_targets: Callable[..., Tensor] | None = None  # (real, fake, t_real, t_fake) -> loss
    probabilistic: bool = False
    needs_weight_clip: bool = False
    needs_gradient_penalty: bool = False

    def g_objective(self, name: str) -> Callable[[Tensor], Tensor]:
        """G's objective ``name`` (train.g_loss); a ConfigError names the valid ones."""
        if name not in self.g_losses:
            from gankit.errors import ConfigError

            raise ConfigError(
                f"train.g_loss={name!r} does not exist for this loss; "
                f"valid: {', '.join(self.g_losses)}."
            )
        return self.g_losses[name]


LOSSES: Registry[LossFamily] = Registry("loss")
LOSSES.register("gan")(
    LossFamily(
        d_loss=d_minimax,
        g_losses={"nonsaturating": g_nonsaturating, "minimax": g_minimax},
        doc="Goodfellow et al. 2014: binary cross-entropy D; saturating or non-saturating G",
        d_loss_targets=d_minimax_targets,
        probabilistic=True,
    )
)
LOSSES.register("lsgan")(
    LossFamily(
        d_loss=d_least_squares,
        g_losses={"nonsaturating": g_least_squares},
        doc="Mao et al. 2017: least squares with the 0-1 coding (a=0, b=1, c=1)",
        d_loss_targets=d_least_squares_targets,
    )
)
LOSSES.register("wgan")(
    LossFamily(
        d_loss=d_wasserstein,
        g_losses={"nonsaturating": g_wasserstein},
        doc="Arjovsky et al. 2017: Wasserstein critic, weights clipped to [-c, c]",
        needs_weight_clip=True,
    )
)
LOSSES.register("wgan-gp")(
    LossFamily(
        d_loss=d_wasserstein,
        g_losses={"nonsaturating": g_wasserstein},
        doc="Gulrajani et al. 2017: Wasserstein critic with a gradient penalty (lambda=10)",
        needs_gradient_penalty=True,
    )
)
LOSSES.register("hinge")(
    LossFamily(
        d_loss=d_hinge,
        g_losses={"nonsaturating": g_hinge},
        doc="Lim & Ye 2017, Miyato et al. 2018: hinge D, G ascends D(G(z))",
    )
)

__all__ = [
    "LOSSES",
    "LossFamily",
    "d_hinge",
    "d_least_squares",
    "d_minimax",
    "d_minimax_targets",
    "d_probabilities",
    "d_wasserstein",
    "g_hinge",
    "g_least_squares",
    "g_minimax",
    "g_nonsaturating",
    "g_wasserstein",
    "gradient_penalty",
    "interpolation_weights",
    "r1_penalty",
    "value_function",
]
