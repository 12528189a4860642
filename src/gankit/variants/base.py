"""The variant protocol: which networks, which phases, which loss terms (DESIGN principle 2).

A variant never calls zero_grad, backward or step: it returns named loss terms, and the one
training loop (gankit.training.loop) does the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config
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


class Variant:
    """Base class of a GAN variant; subclasses are registered in VARIANTS by name."""

    name = "base"
    generator_key = "G"  # the network that `gankit sample` draws from
    conditional = False  # whether G takes a class label (then `sample --label` works)
    ddp_safe = True  # calls D and G only through their forward (needed for DDP's gradient sync)

    def build(self, cfg: Config, data: Any) -> dict[str, nn.Module]:
        raise NotImplementedError

    def phases(self, cfg: Config, nets: dict[str, nn.Module]) -> list[Phase]:
        raise NotImplementedError

    def state(self) -> dict[str, Tensor]:
        """Tensors the variant keeps between steps (trick state such as historical averages),
        saved in every checkpoint under ``variant.`` so that resume continues exactly."""
        return {}

    def load_state(self, tensors: dict[str, Tensor]) -> None:
        """Restore what :meth:`state` returned."""

    def discriminate(self, nets: dict[str, nn.Module], x: Tensor) -> Tensor:
        """D's logits for ``x``; used for the 2-D contour frames and diagnostics."""
        return nets["D"](x)

    @torch.no_grad()
    def generate(self, nets: dict[str, nn.Module], z: Tensor) -> Tensor:
        return nets[self.generator_key](z)

    def grid_samples(self, G: nn.Module, z: Tensor) -> Tensor:
        """G's samples from the fixed noise ``z`` for the progress grids and toy frames;
        conditional variants add labels or codes here (e.g. one class per grid column)."""
        return G(z)

    def grid_labels(self, n: int) -> Tensor | None:
        """The data class that ``grid_samples`` asks for in each of its ``n`` samples, for
        class-conditional variants; None where G is not told a class."""
        return None

    def generator_meta(self, cfg: Config, data: Any) -> dict[str, Any]:
        """Extra checkpoint metadata describing G's input beyond z (labels, latent codes), so
        that `load_generator` can sample without the training code."""
        return {}


VARIANTS: Registry[type[Variant]] = Registry("variant")
