"""What a trained run offers for use after training: the variant's named exports.

A variant declares its exports (DESIGN, "the variant contract"); training writes them into
every checkpoint's metadata under ``exports``, and everything that uses a trained model reads
them from there: ``load_generator`` / ``gankit sample`` (the ``sample`` export), ``gankit
apply`` (``apply`` and any other ``map`` export), metrics during training, diagnostics and the
dashboard. So none of those needs to know a variant's network names.

Two kinds:

* ``sample``: noise (and labels / latent codes, described by ``layout``, the
  :class:`~gankit.networks.conditional.LatentLayout` metadata) -> data; one per run at most,
  under the name ``sample``.
* ``map``: an input (image or vector) -> an output (image, vector or latent ``codes``):
  translation, super-resolution, encoding, segmentation. ``gankit apply`` runs one.

``module`` names the network (its EMA copy where the run kept one and ``ema`` is true);
``call`` a method other than ``forward`` and ``index`` the element of a tuple it returns
(InfoGAN's Q head is ``D.outputs(x)[1]``). An export may instead be a registered composite
of several networks (gankit.networks.composite): ``composite`` names it, ``parts`` maps its
roles to network keys, and ``module`` is then only its name in messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from gankit.networks.composite import COMPOSITES

KINDS = ("sample", "map")
IO_KINDS = ("noise", "image", "vector", "codes")


@dataclass(frozen=True)
class Export:
    module: str  # the network's key in the run (its weights are saved under this name)
    kind: str = "sample"  # sample or map
    input: dict[str, Any] = field(default_factory=dict)  # {"kind": ..., "shape": [...]}
    output: dict[str, Any] = field(default_factory=dict)  # {"kind": ..., "shape": [...]}
    layout: dict[str, Any] | None = None  # sample: LatentLayout.to_meta() of G's inputs
    ema: bool = True  # use the EMA copy of ``module`` where the run kept one
    call: str = "forward"  # the method to call
    index: int | None = None  # take this element of a tuple output
    description: str = ""  # one line for `gankit list` and `apply`'s messages
    composite: str | None = None  # a registered composite built from ``parts``
    parts: dict[str, str] = field(default_factory=dict)  # composite role -> network key
    # what the sampler takes besides noise: {"kind": "text", "encoder": network key}, the
    # run's caption encoder whose ``bank`` of training captions is drawn when none is given
    condition: dict[str, Any] | None = None

    @property
    def networks(self) -> list[str]:
        """The run's networks this export is made of."""
        return list(self.parts.values()) if self.composite else [self.module]

    def __post_init__(self) -> None:
        # checkpoint metadata may be crafted: every field is checked for its type
        types = {
            "module": str, "kind": str, "input": dict, "output": dict, "ema": bool,
            "call": str, "description": str, "parts": dict,
        }  # fmt: skip
        for name, tp in types.items():
            if not isinstance(getattr(self, name), tp):
                raise TypeError(f"export field {name} is not a {tp.__name__}")
        optional = {"layout": dict, "index": int, "composite": str, "condition": dict}
        for name, tp in optional.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, tp) or isinstance(value, bool)):
                raise TypeError(f"export field {name} is not a {tp.__name__} or null")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.parts.items()):
            raise TypeError("export parts must map role names to network names")
        if self.condition is not None and not (
            self.condition.get("kind") == "text" and isinstance(self.condition.get("encoder"), str)
        ):
            raise ValueError("export condition must be {'kind': 'text', 'encoder': NAME}")
        if self.kind not in KINDS:
            raise ValueError(f"export kind {self.kind!r}; valid: {', '.join(KINDS)}")
        for side in (self.input, self.output):
            if side and side.get("kind") not in IO_KINDS:
                raise ValueError(f"export input/output kind {side.get('kind')!r}")

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Export:
        """From checkpoint JSON (possibly crafted): wrong types are ValueError/TypeError."""
        if not isinstance(meta, dict) or not isinstance(meta.get("module"), str):
            raise ValueError("an export without a module name")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in meta.items() if k in known})


def assemble(e: Export, network: Callable[[str], nn.Module]) -> nn.Module:
    """The export's module: ``network(module)``, or its registered composite built from
    ``network(key)`` of each part. Training passes its live networks (or their EMA copies),
    loading passes networks rebuilt from a checkpoint."""
    if not e.composite:
        return network(e.module)
    return COMPOSITES.get(e.composite)(**{role: network(key) for role, key in e.parts.items()})


def exports_to_meta(exports: dict[str, Export]) -> dict[str, Any]:
    return {name: e.to_meta() for name, e in exports.items()}


def exports_from_meta(meta: Any) -> dict[str, Export]:
    if not isinstance(meta, dict):
        raise ValueError("the checkpoint's exports are not a mapping")
    return {str(name): Export.from_meta(e) for name, e in meta.items()}


def describe(exports: dict[str, Export]) -> str:
    """One line saying what `gankit apply` does with this run's exports."""
    maps = [
        f"{name}: {e.input.get('kind', '?')} -> {e.output.get('kind', '?')}"
        + (f" ({e.description})" if e.description else "")
        for name, e in exports.items()
        if e.kind == "map"
    ]
    return "; ".join(maps) if maps else "nothing (no input-to-output model)"
