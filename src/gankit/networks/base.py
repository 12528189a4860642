"""Self-describing networks: a registry of constructors plus the arguments each was built with.

DESIGN principle 5: constructor arguments go to JSON and weights to safetensors, so a network
can be rebuilt from a run directory without the training code.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from gankit.errors import ConfigError
from gankit.registry import Registry

NETWORKS: Registry[type[nn.Module]] = Registry("network")


def build_network(name: str, **kwargs: Any) -> nn.Module:
    """Build registered network ``name`` and remember how (``net.spec``) for saving."""
    cls = NETWORKS.get(name)
    try:
        net = cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(
            f"network {name!r} cannot be built from {sorted(kwargs)}: {exc}"
        ) from None
    net.spec = {"name": name, "kwargs": kwargs}  # type: ignore[assignment]
    return net


def network_spec(net: nn.Module) -> dict[str, Any]:
    spec = getattr(net, "spec", None)
    if spec is None:
        raise TypeError(f"{type(net).__name__} was not made by build_network; it cannot be saved")
    return spec
