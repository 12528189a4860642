"""The optimal-discriminator check (Goodfellow et al. 2014, Proposition 1; lecture 001):

    for a fixed G,  D*(x) = p_data(x) / (p_data(x) + p_G(x)).

G is frozen with a density known in closed form (a Gaussian: G(z) = mu + s z), p_data is a
Gaussian or a Gaussian mixture, D is gankit's MLP discriminator trained with gankit's GAN D loss
on fresh samples of both. The error of sigmoid(D) against D* is measured on a grid over the
support, weighted by p_data + p_G (where D is ever trained), and both can be plotted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gankit.losses import d_minimax
from gankit.networks import build_network


class GaussianMixture:
    """Equal-weight mixture of isotropic Gaussians: exact sampling and log-density."""

    def __init__(self, centers: list[list[float]], std: float):
        self.centers = torch.tensor(centers, dtype=torch.float32)  # (K, d)
        self.std = std
        self.dim = self.centers.shape[1]

    def sample(self, n: int, gen: torch.Generator) -> Tensor:
        which = torch.randint(len(self.centers), (n,), generator=gen)
        return self.centers[which] + self.std * torch.randn(n, self.dim, generator=gen)

    def log_prob(self, x: Tensor) -> Tensor:
        sq = torch.cdist(x.double(), self.centers.double()) ** 2  # (N, K)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2)
        return (
            torch.logsumexp(-sq / (2 * self.std**2), dim=1) + log_norm - math.log(len(self.centers))
        )


class FrozenGaussianGenerator(nn.Module):
    """G(z) = mu + s z with z ~ N(0, I): a generator whose p_G = N(mu, s^2 I) is known exactly."""

    def __init__(self, mean: list[float], std: float):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.std = std
        self.density = GaussianMixture([list(mean)], std)

    def forward(self, z: Tensor) -> Tensor:
        return self.mean + self.std * z


@dataclass
class OptimalDResult:
    grid: np.ndarray  # (N, d) evaluation points
    d: np.ndarray  # sigmoid(D(x)) on the grid
    d_star: np.ndarray  # p_data / (p_data + p_G) on the grid
    weight: np.ndarray  # (p_data + p_G) normalised to sum 1 on the grid
    mae: float  # sum_i w_i |D(x_i) - D*(x_i)|
    max_error: float  # max |D - D*| where w_i is at least 1% of its mean


def optimal_d_star(p_data: GaussianMixture, p_g: GaussianMixture, x: Tensor) -> Tensor:
    """D*(x) = p_data / (p_data + p_G) = sigmoid(log p_data - log p_G), stable in the tails."""
    return torch.sigmoid(p_data.log_prob(x) - p_g.log_prob(x))


def check_optimal_discriminator(
    p_data: GaussianMixture,
    G: FrozenGaussianGenerator,
    grid: Tensor,
    steps: int = 2000,
    batch_size: int = 512,
    hidden: int = 64,
    layers: int = 2,
    lr: float = 2e-3,
    seed: int = 0,
) -> OptimalDResult:
    """Train D against the frozen ``G`` and compare it with D* on ``grid`` (N, d)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    D = build_network("mlp_d", in_shape=[p_data.dim], hidden=hidden, layers=layers)
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    # The learning rate decays linearly to 0: the last estimate is then an average over many
    # minibatches rather than one noisy step (a standard stochastic-approximation schedule).
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / max(1, steps))
    G.requires_grad_(False)
    for _ in range(steps):
        real = p_data.sample(batch_size, gen)
        with torch.no_grad():
            fake = G(torch.randn(batch_size, p_data.dim, generator=gen))
        loss = d_minimax(D(real), D(fake))  # Goodfellow et al. 2014, Algorithm 1, D step
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        d = torch.sigmoid(D(grid)).double()
    d_star = optimal_d_star(p_data, G.density, grid)
    log_w = torch.logaddexp(p_data.log_prob(grid), G.density.log_prob(grid))
    w = torch.softmax(log_w, dim=0)
    err = (d - d_star).abs()
    return OptimalDResult(
        grid=grid.numpy(),
        d=d.numpy(),
        d_star=d_star.numpy(),
        weight=w.numpy(),
        mae=float((w * err).sum()),
        max_error=float(err[w >= 0.01 / len(w)].max()),
    )


def plot_optimal_d(result: OptimalDResult, out: Path, title: str = "") -> Path:
    """1-D: D and D* as curves over the two densities; 2-D: D, D* and |D - D*| as images."""
    import matplotlib.pyplot as plt

    x = result.grid
    if x.shape[1] == 1:
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        ax.plot(x[:, 0], result.d_star, "k--", lw=2, label="D*(x) = p_data / (p_data + p_G)")
        ax.plot(x[:, 0], result.d, "C3", lw=1.5, label="trained D(x)")
        ax.fill_between(
            x[:, 0],
            0,
            result.weight / result.weight.max(),
            color="C0",
            alpha=0.15,
            label="p_data + p_G (scaled)",
        )
        ax.set_xlabel("x")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8, loc="best")
    else:
        side = int(round(math.sqrt(len(x))))
        extent = (x[:, 0].min(), x[:, 0].max(), x[:, 1].min(), x[:, 1].max())
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
        panels = (
            ("trained D", result.d),
            ("D*", result.d_star),
            ("|D - D*|", np.abs(result.d - result.d_star)),
        )
        for ax, (name, v) in zip(axes, panels):
            im = ax.imshow(
                v.reshape(side, side), origin="lower", extent=extent, vmin=0, vmax=1, cmap="viridis"
            )
            ax.set_title(name)
        fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle(f"{title}  weighted MAE = {result.mae:.4f}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def line_grid(lo: float, hi: float, n: int = 1000) -> Tensor:
    return torch.linspace(lo, hi, n).unsqueeze(1)


def square_grid(lo: float, hi: float, n: int = 100) -> Tensor:
    """(n*n, 2) points, rows varying fastest in x, so that reshape(n, n) is an image."""
    t = torch.linspace(lo, hi, n)
    ys, xs = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)
