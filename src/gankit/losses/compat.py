"""Which tricks make sense with which loss family; checked when a config is validated, so a
nonsense combination is a one-line ConfigError before any run directory is created."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from gankit.errors import ConfigError

if TYPE_CHECKING:
    from gankit.losses import LossFamily


class TrickSettings(Protocol):
    """What these checks read of ``cfg.tricks`` (:class:`gankit.config.TricksConfig`).

    A protocol, not an import: config.py calls :func:`check_loss_tricks` while validating, so
    importing config here would make the two modules import each other.
    """

    label_smoothing: float
    soft_labels: float
    label_flip: float
    minibatch_disc: bool
    feature_matching: bool
    unrolled_steps: int
    gp_weight: float | None
    clip_value: float | None


LABEL_TRICKS = ("label_smoothing", "soft_labels", "label_flip")


def gp_weight(k: TrickSettings, family: LossFamily) -> float:
    """lambda of the gradient penalty: the user's value, else 10 for WGAN-GP (Gulrajani et al.
    2017, Sec. 4), else 0."""
    if k.gp_weight is not None:
        return k.gp_weight
    return 10.0 if family.needs_gradient_penalty else 0.0


def clip_value(k: TrickSettings, family: LossFamily) -> float:
    """c of WGAN's weight clipping: the user's value, else 0.01 (Arjovsky et al. 2017, Alg. 1)."""
    if not family.needs_weight_clip:
        return 0.0
    return 0.01 if k.clip_value is None else k.clip_value


def check_loss_tricks(k: TrickSettings, loss: str) -> None:
    """Raise a ConfigError naming the trick and the loss when they do not go together."""
    from gankit.losses import LOSSES

    family = LOSSES.get(loss)
    for key in LABEL_TRICKS:
        if getattr(k, key) and family.d_loss_targets is None:
            raise ConfigError(
                f"tricks.{key} does not apply to train.loss={loss}: its critic has no target "
                "labels to smooth or flip; use train.loss=gan or lsgan, or drop the trick."
            )
    if k.clip_value is not None and not family.needs_weight_clip:
        raise ConfigError(
            f"tricks.clip_value is WGAN weight clipping and does not apply to train.loss={loss}; "
            "use train.loss=wgan or drop tricks.clip_value."
        )
    if family.needs_weight_clip and k.gp_weight:
        raise ConfigError(
            "tricks.gp_weight with train.loss=wgan mixes two Lipschitz constraints; use "
            "train.loss=wgan-gp for the gradient penalty or drop tricks.gp_weight."
        )
    if family.needs_gradient_penalty and gp_weight(k, family) <= 0:
        raise ConfigError(
            "train.loss=wgan-gp needs tricks.gp_weight > 0 (10 in Gulrajani et al. 2017); "
            "use train.loss=wgan for weight clipping instead."
        )
    if k.minibatch_disc and (gp_weight(k, family) > 0 or k.r1_weight):
        penalty = "tricks.r1_weight" if k.r1_weight else f"train.loss={loss} / tricks.gp_weight"
        raise ConfigError(
            "tricks.minibatch_disc couples the samples of a batch, so the per-sample gradient "
            f"penalty of {penalty} is not defined; drop one of them."
        )
    if k.feature_matching and k.unrolled_steps:
        raise ConfigError(
            "tricks.feature_matching replaces the generator loss that tricks.unrolled_steps "
            "unrolls; use one of them."
        )
