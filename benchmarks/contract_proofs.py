"""How well the two proof variants of the variant contract do on their 2-D presets.

    python benchmarks/contract_proofs.py --out runs/proofs [--seed 0] [--reuse]

Trains `bigan-ring` and `cyclegan-ring-grid` (or reuses the runs under --out with --reuse),
then measures, on 2,000 fresh test points, only through the run directories (load_generator,
load_model):

* BiGAN: mode coverage of G(z) (modes with a sample within 3 std of their centre, as in
  diag/modes, and the fraction of such high-quality samples), and the reconstruction error of
  G(E(x)) against x (mean Euclidean distance), beside the error of a constant reconstruction
  (every x sent to the data mean) as a floor to read it against.
* CycleGAN: the fraction of G_AB(a) within 3 std of a grid centre, how many of the 25 grid
  modes the 8 ring modes are sent to, and the cycle error |G_BA(G_AB(a)) - a|.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import gankit
from gankit.data import load_dataset
from gankit.data.toys import GRID_CENTERS, GRID_STD, RING_CENTERS, RING_STD
from gankit.metrics.modes import mode_coverage
from gankit.runs import load_generator, load_model


def _train(preset: str, out: Path, seed: int, reuse: bool) -> float:
    if reuse and (out / "checkpoints").is_dir():
        return 0.0
    start = time.process_time()
    gankit.train(preset, out=out, seed=seed, progress=False)
    return time.process_time() - start


def _near(points: torch.Tensor, centers: list, std: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of the nearest centre, whether within 3 std of it) for each point."""
    d = torch.cdist(points.double(), torch.tensor(centers, dtype=torch.float64))
    dist, idx = d.min(1)
    return idx, dist <= 3 * std


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse", action="store_true", help="score existing runs under --out")
    args = ap.parse_args()
    test = load_dataset("ring", split="test", n_samples=2000, seed=args.seed).x
    report = {}

    cpu = _train("bigan-ring", args.out / "bigan", args.seed, args.reuse)
    G, E = load_generator(args.out / "bigan"), load_model(args.out / "bigan")
    cov = mode_coverage(G.sample(2000, seed=1).numpy(), RING_CENTERS, RING_STD)
    recon = G.generate(E(test))
    report["bigan-ring"] = {
        "cpu_seconds": round(cpu, 1),
        "modes_captured": cov["modes_captured"],
        "high_quality_fraction": round(cov["high_quality_fraction"], 3),
        "recon_error": round(float((recon - test).norm(dim=1).mean()), 3),
        "recon_error_of_the_mean": round(float((test - test.mean(0)).norm(dim=1).mean()), 3),
    }

    cpu = _train("cyclegan-ring-grid", args.out / "cyclegan", args.seed, args.reuse)
    ab = load_model(args.out / "cyclegan", export="apply")
    cycle = load_model(args.out / "cyclegan", export="cycle_a")
    out = ab(test)
    idx, good = _near(out, GRID_CENTERS, GRID_STD)
    ring_mode, _ = _near(test, RING_CENTERS, RING_STD)
    # the grid mode each ring mode is sent to most often
    targets = {int(m): int(idx[ring_mode == m].mode().values) for m in ring_mode.unique()}
    report["cyclegan-ring-grid"] = {
        "cpu_seconds": round(cpu, 1),
        "on_a_grid_mode": round(float(good.double().mean()), 3),
        "distinct_grid_modes_for_8_ring_modes": len(set(targets.values())),
        "cycle_error": round(float((cycle(test) - test).norm(dim=1).mean()), 4),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
