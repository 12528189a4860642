"""GAN variants, one file each, registered by name."""

from gankit.variants import acgan, ali, bigan, cgan, cyclegan, dcgan, gan, infogan  # noqa: F401
from gankit.variants.base import VARIANTS, Phase, StepContext, Variant

__all__ = ["VARIANTS", "Phase", "StepContext", "Variant"]
