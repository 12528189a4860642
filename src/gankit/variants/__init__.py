"""GAN variants, one file each, registered by name."""

from gankit.variants import acgan, cgan, dcgan, gan, infogan  # noqa: F401  (registers)
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant

__all__ = ["VARIANTS", "Phase", "StepContext", "Variant"]
