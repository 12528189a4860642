"""The variant protocol: which networks, which phases, which loss terms (DESIGN principle 2).

A variant never calls zero_grad, backward or step: it returns named loss terms, and the one
training loop (gankit.training.loop) does the rest. What a variant declares:

* ``build``: its networks by name (any number: G, D, E, G_AB, D_B, ...);
* ``phases``: each names the modules it updates, its loss function, its optimiser settings,
  how many times in a row it runs (``repeat``) and when (``every``, ``start``, ``stop``,
  ``when``: pre-training, stages, lazy regularisation are data here, not code in the loop);
* ``exports``: what the run offers after training (gankit.exports), read back by sampling,
  ``gankit apply``, metrics, diagnostics and the dashboard;
* ``ema_modules``: the networks of which the loop keeps an exponential moving average;
* ``preview``: the picture drawn from fixed inputs into the run directory;
* ``state`` / ``load_state``: trick state to checkpoint.

A loss function sees a :class:`StepContext`: the networks, the batch by field name
(``ctx["x"]``, ``ctx["b"]``; ``ctx.real`` and ``ctx.labels`` are ``x`` and ``y``), noise, the
step. docs/variants.md walks through adding a variant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.errors import ConfigError
from gankit.exports import Export
from gankit.networks.conditional import LatentLayout
from gankit.registry import Registry


@dataclass
class StepContext:
    """What a phase's loss function sees for one update."""

    nets: dict[str, nn.Module]
    real: Tensor | None  # a real minibatch, or None for phases that use no data
    labels: Tensor | None
    batch_size: int
    step: int
    sample_z: Callable[[int], Tensor]  # draws z ~ p_z from the run's saved noise stream
    rng: torch.Generator | None = None  # the same saved stream, for labels, codes, masks
    logs: dict[str, Tensor] = field(default_factory=dict)  # detached values to record
    # the optimizers by phase name, read-only: an unrolled D continues D's Adam state
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    batch: Mapping[str, Tensor] = field(default_factory=dict)  # every field of the minibatch

    def __getitem__(self, name: str) -> Tensor:
        """A field of the minibatch by name: ``ctx["x"]``, ``ctx["b"]``, ``ctx["mask"]``."""
        return self.batch[name]

    def log(self, name: str, value: Tensor) -> None:
        self.logs[name] = value.detach()


LossFn = Callable[[StepContext], dict[str, Tensor]]


@dataclass
class Phase:
    """One kind of update: the loop runs ``repeat`` of them in a row, once per training step."""

    name: str  # "D", "G", ...
    modules: list[str]  # the networks whose parameters this phase updates; all others are frozen
    loss: LossFn  # returns named terms; the loop minimises their sum
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    repeat: int = 1  # k discriminator steps per generator step: Goodfellow et al. 2014, Alg. 1
    uses_data: bool = True  # draws a real minibatch for each update
    after_step: Callable[[], None] | None = None  # run after each optimizer step (WGAN clipping)
    # The schedule: the phase runs at step s when start <= s < stop, (s - start) % every == 0
    # and when(s) (if given). A pure function of the step, so a resumed run continues it.
    every: int = 1
    start: int = 0
    stop: int | None = None
    when: Callable[[int], bool] | None = None

    def __post_init__(self) -> None:
        if self.every < 1 or self.repeat < 1 or self.start < 0:
            raise ValueError(f"phase {self.name}: every and repeat must be >= 1, start >= 0")

    def runs_at(self, step: int) -> bool:
        if step < self.start or (self.stop is not None and step >= self.stop):
            return False
        if (step - self.start) % self.every:
            return False
        return self.when is None or bool(self.when(step))


class Variant:
    """Base class of a GAN variant; subclasses are registered in VARIANTS by name."""

    name = "base"
    conditional = False  # whether the sample export takes a class label (`sample --label`)
    ddp_safe = True  # calls its networks only through their forward (DDP's gradient sync)
    ema_modules: tuple[str, ...] = ("G",)  # averaged when train.ema > 0
    applies = ""  # what `gankit apply` does with its map exports, for `gankit list`

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        raise NotImplementedError

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        raise NotImplementedError

    history: Any = None  # the run's tricks.HistoricalAverage, where phases() made one

    def state(self) -> dict[str, Tensor]:
        """Tensors the variant keeps between steps (trick state such as historical averages),
        saved in every checkpoint under ``variant.`` so that resume continues exactly."""
        return self.history.state() if self.history is not None else {}

    def load_state(self, tensors: dict[str, Tensor]) -> None:
        """Restore what :meth:`state` returned."""
        if self.history is not None:
            self.history.load_state(tensors)

    def layout(self, cfg: Config, data: Any) -> LatentLayout:
        """What the generator takes besides z (labels, latent codes); plain G(z) here."""
        return LatentLayout(cfg.model.z_dim)

    def exports(self, cfg: Config, data: Any) -> dict[str, Export]:
        """What the run offers after training (gankit.exports): here G as the sampler."""
        return {"sample": sampler_export("G", self.layout(cfg, data), data)}

    def network_families(self, nets: dict[str, nn.Module]) -> dict[str, str]:
        """What ``model.generator`` / ``model.discriminator`` name for this run: the family of
        the networks built as G and D ("mlp", "dcgan", "conv_xz", ...), for config.json and
        for refusing a value this variant does not read."""
        found = {}
        for key, net_key in (("generator", "G"), ("discriminator", "D")):
            spec = getattr(nets.get(net_key), "spec", None)
            if spec is None:
                continue
            name = spec["kwargs"].get("base", spec["name"])  # a conditional wrapper's base
            found[key] = name.removesuffix("_g").removesuffix("_d")
        return found

    def discriminate(self, nets: dict[str, nn.Module], x: Tensor) -> Tensor:
        """D's logits for ``x``; the contour of the 2-D toy frames."""
        return nets["D"](x)

    def preview(self, p: Any) -> None:
        """Draw the fixed-input picture of this step (a gankit.previews.Preview ``p``): the
        sample grid for images, real vs generated points over D's contour for 2-D data."""
        p.samples_and_contour(lambda x: self.discriminate(p.nets, x), judge_modules=["D"])


def sampler_export(module: str, layout: LatentLayout, data: Any, **kw: Any) -> Export:
    """The ``sample`` export of a generator ``module`` drawing data like ``data``'s x."""
    return Export(
        module,
        "sample",
        input={"kind": "noise", "shape": [layout.z_dim]},
        output={"kind": data.kind, "shape": list(data.shape)},
        layout=layout.to_meta(),
        **kw,
    )


VARIANTS: Registry[type[Variant]] = Registry("variant")


def reconstruct_export(io: dict[str, Any], description: str, encoder: str = "E",
                       decoder: str = "G") -> Export:  # fmt: skip
    """The ``reconstruct`` export x -> G(E(x)) of a model that learns both maps: a composite of
    the two trained networks (gankit.networks.composite.EncodeDecode, which takes a stochastic
    encoder's mean). ``io``: the data's {"kind", "shape"}, both input and output."""
    return Export(
        "reconstruct",
        "map",
        input=io,
        output=io,
        composite="encode_decode",
        parts={"encoder": encoder, "decoder": decoder},
        description=description,
    )


def square_images(data: Any, who: str, hint: str) -> tuple[int, int]:
    """(channels, side) of square image ``data``; one ConfigError line otherwise, naming
    ``who`` needs it and, for non-image data, the ``hint`` of what to use instead."""
    if data.kind != "image":
        raise ConfigError(f"{who} needs image data; {data.name!r} is {data.kind} data. {hint}")
    channels, height, width = data.shape
    if height != width:
        raise ConfigError(f"{who} needs square images, got {height}x{width}; set data.image_size.")
    return channels, height
