"""The optimal-discriminator check of lecture 001 / Goodfellow et al. 2014, Proposition 1:
with G frozen, the trained D approaches D*(x) = p_data(x) / (p_data(x) + p_G(x)).

Two cases with densities known in closed form:
* 1-D: p_data = N(0, 1), frozen G(z) = 1.5 + 0.7 z, so p_G = N(1.5, 0.7^2);
* 2-D: p_data = 8 Gaussians of std 0.15 on the unit circle, frozen G(z) = 0.8 z.

Prints the error of D against D* (mean absolute error weighted by p_data + p_G on a grid over
the support, and the largest error where that weight is not negligible) and draws D and D*
to docs/images/optimal_d_1d.png and docs/images/optimal_d_2d.png.

    python benchmarks/optimal_discriminator.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from gankit.data.toys import RING_CENTERS
from gankit.training.optimal_d import (
    FrozenGaussianGenerator,
    GaussianMixture,
    check_optimal_discriminator,
    line_grid,
    plot_optimal_d,
    square_grid,
)

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--images",
        type=Path,
        default=IMAGES,
        help="folder for the two pictures (default: docs/images, the ones the docs show)",
    )
    args = parser.parse_args(argv)
    args.images.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    cases = [
        (
            "1-D: N(0, 1) vs frozen G = N(1.5, 0.7^2)",
            GaussianMixture([[0.0]], 1.0),
            FrozenGaussianGenerator([1.5], 0.7),
            line_grid(-5.0, 5.0),
            {"steps": 2000, "hidden": 64, "layers": 2},
            args.images / "optimal_d_1d.png",
        ),
        (
            "2-D: ring of 8 N(., 0.15^2) vs frozen G = N(0, 0.8^2 I)",
            GaussianMixture(RING_CENTERS, 0.15),
            FrozenGaussianGenerator([0.0, 0.0], 0.8),
            square_grid(-2.0, 2.0),
            {"steps": 3000, "hidden": 128, "layers": 3},
            args.images / "optimal_d_2d.png",
        ),
    ]
    for title, p_data, G, grid, opts, out in cases:
        t0 = time.perf_counter()
        r = check_optimal_discriminator(p_data, G, grid, batch_size=512, **opts)
        plot_optimal_d(r, out, title)
        print(
            f"{title}: weighted MAE {r.mae:.4f}, max error {r.max_error:.4f} "
            f"({opts['steps']} D steps, {time.perf_counter() - t0:.0f}s) -> {out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
