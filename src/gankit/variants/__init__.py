"""GAN variants, one file each, registered by name.

Every module in this package except the protocol (base) and the old-format reader (legacy) is
a variant file and is imported here, so that adding a variant is adding one file.
"""

import importlib
import pkgutil

from gankit.variants.base import VARIANTS, Phase, StepContext, Variant

_NOT_VARIANTS = {"base", "legacy"}
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module not in _NOT_VARIANTS:
        importlib.import_module(f"{__name__}.{_module}")  # registers the variant and its presets

__all__ = ["VARIANTS", "Phase", "StepContext", "Variant"]
