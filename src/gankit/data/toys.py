"""2-D toy distributions with exactly known densities, for watching a GAN learn (or miss) modes.

* ``sine``: x1 ~ U[0, 2*pi], x2 = sin(x1); the noiseless curve of the classic lecture example.
* ``ring``: a mixture of 8 Gaussians, means evenly spaced on the unit circle, std 0.01; the
  mode-collapse benchmark of Metz et al., "Unrolled Generative Adversarial Networks", ICLR 2017
  (they use radius 2 and std 0.02; the geometry is the same).
* ``grid``: 25 Gaussians with means on {-4, -2, 0, 2, 4}^2, std 0.05 (Dumoulin et al.,
  "Adversarially Learned Inference", ICLR 2017, section 4.1; also used by VEEGAN and PacGAN).
* ``spiral``: the two-turn Archimedean spiral r = theta / (4 pi), theta in [0, 4 pi], with
  isotropic Gaussian noise of std 0.02. theta = 4 pi sqrt(u), u ~ U[0, 1], because the arc
  length of r = a*theta grows like theta^2, so this spreads points about evenly along the curve.

Samplers are exact: they draw from the true distribution, so metrics can compare a generator
against fresh real samples rather than against the finite training set.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import replace

import torch

from gankit.data.dataset import DATASETS, Dataset, LoadOptions
from gankit.errors import ConfigError
from gankit.registry import Registry

Sampler = Callable[[int, torch.Generator], torch.Tensor]

# Offsetting the seed gives the test split a stream unrelated to the training one.
TEST_SEED_OFFSET = 1_000_003
UNPAIRED_SEED_OFFSET = 2_000_003  # domain B of ring-grid: a stream apart from A's

RING_STD = 0.01
RING_CENTERS = [[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)]
GRID_STD = 0.05
GRID_CENTERS = [[float(a), float(b)] for a in range(-4, 5, 2) for b in range(-4, 5, 2)]
SPIRAL_TURNS = 2
SPIRAL_NOISE = 0.02

TOY_SAMPLERS: Registry[Sampler] = Registry("toy distribution")


def toy_sampler(name: str) -> Sampler:
    """``sample(n, generator) -> (n, 2) float32`` drawing exactly from the named toy."""
    return TOY_SAMPLERS.get(name)


def gaussian_mixture(centers: list[list[float]], std: float) -> Sampler:
    """Equal-weight mixture of isotropic Gaussians."""
    means = torch.tensor(centers, dtype=torch.float32)

    def sample(n: int, generator: torch.Generator) -> torch.Tensor:
        which = torch.randint(len(means), (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float32)
        return means[which] + std * noise

    return sample


@TOY_SAMPLERS.register("sine")
def sample_sine(n: int, generator: torch.Generator) -> torch.Tensor:
    x1 = torch.rand(n, generator=generator, dtype=torch.float32) * (2 * math.pi)
    return torch.stack([x1, torch.sin(x1)], dim=1)


@TOY_SAMPLERS.register("spiral")
def sample_spiral(n: int, generator: torch.Generator) -> torch.Tensor:
    max_angle = 2 * math.pi * SPIRAL_TURNS
    u = torch.rand(n, generator=generator, dtype=torch.float32)
    theta = max_angle * u.sqrt()
    radius = theta / max_angle
    curve = torch.stack([radius * torch.cos(theta), radius * torch.sin(theta)], dim=1)
    return curve + SPIRAL_NOISE * torch.randn(n, 2, generator=generator, dtype=torch.float32)


TOY_SAMPLERS.register("ring")(gaussian_mixture(RING_CENTERS, RING_STD))
TOY_SAMPLERS.register("grid")(gaussian_mixture(GRID_CENTERS, GRID_STD))

TOY_INFO = {
    "sine": {"x1_range": [0.0, 2 * math.pi]},
    "ring": {"centers": RING_CENTERS, "std": RING_STD},
    "grid": {"centers": GRID_CENTERS, "std": GRID_STD},
    "spiral": {"turns": SPIRAL_TURNS, "noise_std": SPIRAL_NOISE},
}


def _toy_loader(name: str) -> Callable[[LoadOptions], Dataset]:
    def load(opts: LoadOptions) -> Dataset:
        if opts.split not in ("train", "test"):
            raise ConfigError(
                f"toy dataset {name!r} has splits 'train' and 'test', not {opts.split!r}"
            )
        seed = opts.seed + (TEST_SEED_OFFSET if opts.split == "test" else 0)
        generator = torch.Generator().manual_seed(seed)
        x = toy_sampler(name)(opts.n_samples, generator)
        # A deep copy, so a caller editing ds.info cannot change the module constants.
        info = copy.deepcopy(TOY_INFO[name])
        return Dataset(x=x, y=None, kind="vector", name=name, info=info)

    return load


for _name in TOY_INFO:
    DATASETS.register(_name)(_toy_loader(_name))


@DATASETS.register("ring-grid")
def _ring_grid(opts: LoadOptions) -> Dataset:
    """Two unpaired 2-D domains for translation: A = the ring (``x``, also named ``a``) and
    B = the grid (``b``), each drawn from its own stream, ``n_samples`` points each. Nothing
    pairs a ring point with a grid point: a translator has to find the correspondence."""
    ring = _toy_loader("ring")(opts)
    grid = _toy_loader("grid")(replace(opts, seed=opts.seed + UNPAIRED_SEED_OFFSET))
    info = {"a": ring.info, "b": grid.info, "centers": RING_CENTERS, "std": RING_STD}
    return Dataset(
        x=ring.x,
        y=None,
        kind="vector",
        name="ring-grid",
        info=info,
        unpaired={"b": grid.x},
        aliases={"a": "x"},
    )
