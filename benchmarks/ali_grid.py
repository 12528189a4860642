"""ALI against a plain GAN on the 25-Gaussian grid (issue 14; Dumoulin et al. 2016, Sec. 4.1).

    OMP_NUM_THREADS=1 python benchmarks/ali_grid.py [--configs ali,gan] [--seeds 5] [--jobs 1]

Trains each config for seeds 0..N-1 through gankit's one loop and scores 2,500 samples of the
final generator exactly as the "Toy mode coverage" tables of docs/benchmarks.md do (the same
function, benchmarks/toy_modes.one_run: gankit.metrics.modes.mode_coverage, a mode captured
when a sample lies within 3 std of its centre, sample seed 10000 + seed). The GAN is preset
toy-grid with ali-grid's overrides, so it has the same G and D widths and depth (D takes x
alone instead of the pair [x, z]), the same steps, rates, decay and instance noise.

Printed: a markdown table of modes captured and high-quality fraction, mean +- std over the
seeds, beside the ALI paper's figures. The paper counts a mode when any of 10,000 samples is
assigned to it by the mixture responsibilities (no distance threshold) over 10 runs with random
learning rates, betas and init scales, so its figures are not on the same criterion.
Finished runs are cached in --cache, keyed by the resolved config and by a fingerprint of
gankit's source and the environment (torch, Python, machine), so a rerun trains again after
any change of the code and only reuses runs of exactly this code.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from bench_cache import code_fingerprint
from toy_modes import N_SAMPLES, key, mean_std, one_run  # same scoring as the toy tables

from gankit.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]

# ali-grid's training settings without its variant: what the GAN baseline gets on top of toy-grid
SHARED = {k: v for k, v in PRESETS["ali-grid"].overrides.items() if k != "train.variant"}
NO_NOISE = {"tricks.instance_noise": 0.0}
# name -> (preset, overrides, what it is, the paper's modes "mean +- std" or "")
CONFIGS: dict[str, tuple[str, dict, str, str]] = {
    "ali": ("ali-grid", {}, "preset ali-grid (Gaussian encoder, D on (x, z))", "13.4 ± 5.8"),
    "gan": ("toy-grid", SHARED, "GAN, toy-grid with ali-grid's settings", "10.4 ± 9.2"),
    "bigan": ("bigan-grid", {}, "preset bigan-grid (deterministic encoder)", ""),
    "ali_no_noise": ("ali-grid", NO_NOISE, "ali-grid without instance noise", ""),
    "gan_no_noise": ("toy-grid", {**SHARED, **NO_NOISE}, "the GAN without instance noise", ""),
}


FINGERPRINT = code_fingerprint()  # benchmarks/bench_cache.py


def run_key(name: str, seed: int, preset: str, overrides: dict) -> str:
    return f"{key(name, 'grid', seed, preset, overrides)}/{FINGERPRINT}"


def _run(args: tuple) -> tuple[str, dict]:
    name, preset, overrides, seed = args
    return run_key(name, seed, preset, overrides), one_run(preset, overrides, seed)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="ali,gan", help="comma list of " + ", ".join(CONFIGS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (one thread each)")
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / "results" / "ali_grid.json"))
    args = p.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    if args.seeds < 1:
        print("--seeds must be at least 1", file=sys.stderr)
        return 2
    if any(c not in CONFIGS for c in configs):
        print(f"unknown config; valid: {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    cache = Path(args.cache)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    jobs = [(c, CONFIGS[c][0], CONFIGS[c][1], s) for c in configs for s in range(args.seeds)]
    todo = [j for j in jobs if run_key(j[0], j[3], j[1], j[2]) not in results]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for k, r in pool.map(_run, todo):
            results[k] = r
            print(f"{k}: {r['modes_captured']} modes, hq {r['high_quality_fraction']:.3f}, "
                  f"{r['cpu_seconds']:.0f} CPU s", flush=True)  # fmt: skip
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(results, indent=1, sort_keys=True))
    print(
        f"\n2D-grid (25 modes), seeds 0-{args.seeds - 1}, {N_SAMPLES} samples each\n\n"
        "| config | what | steps | seeds | modes captured | high-quality % | reverse KL "
        "| CPU s / run | paper's modes (10 runs, other criterion) |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    for c in configs:
        preset, overrides, what, paper = CONFIGS[c]
        runs = [results[run_key(c, s, preset, overrides)] for s in range(args.seeds)]
        print(
            f"| {c} | {what} | {runs[0]['steps']} | {len(runs)} "
            f"| {mean_std([r['modes_captured'] for r in runs], '{:.1f}')} "
            f"| {mean_std([100 * r['high_quality_fraction'] for r in runs], '{:.1f}')} "
            f"| {mean_std([r['reverse_kl'] for r in runs], '{:.3f}')} "
            f"| {np.mean([r['cpu_seconds'] for r in runs]):.0f} | {paper or '-'} |"
        )
        print(f"<!-- {c} per seed: {[r['modes_captured'] for r in runs]} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
