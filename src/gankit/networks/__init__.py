"""Generators and discriminators, registered by name and rebuilt from their specs."""

from gankit.networks import conditional, dcgan, mlp  # noqa: F401  (registers the networks)
from gankit.networks.base import NETWORKS, build_network, network_spec
from gankit.networks.composite import COMPOSITES

__all__ = ["COMPOSITES", "NETWORKS", "build_network", "network_spec"]
