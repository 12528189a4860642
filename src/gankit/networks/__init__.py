"""Generators, discriminators and encoders, registered by name and rebuilt from their specs.

Every module of this package is imported here (each registers its networks), so that a new
network file needs no edit elsewhere.
"""

import importlib
import pkgutil

from gankit.networks.base import NETWORKS, build_network, network_spec
from gankit.networks.composite import COMPOSITES

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["COMPOSITES", "NETWORKS", "build_network", "network_spec"]
