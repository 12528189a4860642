"""GAN variants, one file each, registered by name."""

from gankit.variants import dcgan, gan  # noqa: F401  (registers the variants)
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant

__all__ = ["VARIANTS", "Phase", "StepContext", "Variant"]
