"""Architectures beyond DCGAN at equal CPU time on Fashion-MNIST: DCGAN, SAGAN, TransGAN and
LAPGAN, and the ablations of issue 16.

    OMP_NUM_THREADS=1 python benchmarks/architectures_fashion.py --budget 6 --seeds 3 --jobs 2
    OMP_NUM_THREADS=1 python benchmarks/architectures_fashion.py --configs sagan,sagan_noattn

Each config is a preset (with overrides) trained for the same CPU budget: a short pilot run
measures its CPU seconds per step on one thread, and the run gets budget / that many steps
(steps, not wall time, so that a run is reproducible; the CPU time it really took is
reported). Then, on the Fashion-MNIST test split with the domain classifier's features
(``domain:fashion-mnist``): FID, KID, precision / recall (Kynkaanniemi et al. 2019) and class
coverage (classes found among the samples and the KL of their class histogram to the test
set's) of --n samples (``gankit.metrics.evaluate``), each as mean +- std over the seeds.

Configs: ``dcgan`` (dcgan-fashion), ``sagan`` (sagan-fashion), ``sagan_lr`` (SAGAN with G's
learning rate raised to D's: TTUR's slow G is what a short CPU budget punishes most),
``sagan_noattn`` (no attention blocks: the gamma-free ablation), ``transgan``
(transgan-fashion, DiffAugment on), ``transgan_noaug`` (DiffAugment off), ``lapgan``
(lapgan-fashion) and ``dcgan_lapsize`` (a single-scale DCGAN widened to about LAPGAN's
parameter count). Presets that do not exist yet are reported as missing rather than failing
the others.

Finished runs are cached in --cache keyed by config, overrides, seed, budget, n and the code
fingerprint (benchmarks/bench_cache.py), so a rerun after any code change trains again.
SAGAN runs' gamma trajectories (stats.jsonl ``attn_gamma/*``) are drawn to --gamma-plot.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from bench_cache import code_fingerprint

from gankit import api
from gankit.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = code_fingerprint(Path(__file__))
QUIET = {"diagnose.enabled": False, "eval.metrics": "", "log.progress": False}
METRICS = "fid,kid,precision_recall,class_coverage"
KEYS = ("fid", "kid", "precision", "recall", "classes_covered", "class_kl")
PILOT_STEPS = 30
# name -> (preset, overrides, what it is)
CONFIGS: dict[str, tuple[str, dict, str]] = {
    "dcgan": ("dcgan-fashion", {}, "gankit's DCGAN"),
    "sagan": ("sagan-fashion", {}, "SAGAN: attention, SN, hinge, TTUR, CBN + projection"),
    "sagan_lr": (
        "sagan-fashion",
        {"train.lr_g": 4e-4},
        "SAGAN with lr_G = lr_D = 4e-4 (no TTUR)",
    ),
    "sagan_noattn": ("sagan-fashion", {"options.attention_res": 0}, "SAGAN without attention"),
    "transgan": ("transgan-fashion", {}, "TransGAN, DiffAugment on"),
    "transgan_noaug": ("transgan-fashion", {"tricks.diffaugment": ""}, "TransGAN, no DiffAugment"),
    "lapgan": ("lapgan-fashion", {}, "LAPGAN 7 -> 14 -> 28"),
    "dcgan_lapsize": (
        "dcgan-fashion",
        {"model.g_channels": 48, "model.d_channels": 48},
        "single-scale DCGAN, widths 48 (about LAPGAN's parameters)",
    ),
}


def key(name: str, seed: int, budget: float, n: int) -> str:
    overrides = json.dumps(CONFIGS[name][1], sort_keys=True)
    return f"{name}/seed{seed}/{overrides}/budget{budget}/n{n}/{FINGERPRINT}"


def cpu_per_step(preset: str, overrides: dict, work: Path) -> float:
    """CPU seconds per training step: a (5 + PILOT_STEPS)-step run minus a 5-step run, so
    that loading the data and building the networks are not counted. A first, uncounted
    5-step run pays the one-time costs (reading the data files, imports, first kernels): left
    in the first counted run they made the difference vanish and the step count explode."""
    pilot = work / f"pilot_{preset}"
    shutil.rmtree(pilot, ignore_errors=True)
    over = {**QUIET, **overrides, "log.checkpoint_every": 10**9, "log.sample_every": 0}
    cost = []
    for i, steps in enumerate((5, 5, 5 + PILOT_STEPS)):
        start = time.process_time()
        api.train(preset, pilot / f"{i}_{steps}", steps=steps, overrides=over)
        cost.append(time.process_time() - start)
    shutil.rmtree(pilot, ignore_errors=True)
    per_step = (cost[2] - cost[1]) / PILOT_STEPS
    if per_step <= 0:
        raise RuntimeError(f"pilot of {preset}: {PILOT_STEPS} more steps cost no CPU time {cost}")
    return per_step


def one_run(name: str, seed: int, budget: float, n: int, work: Path) -> dict:
    from gankit.metrics.evaluate import evaluate

    torch.set_num_threads(1)
    preset, overrides, _ = CONFIGS[name]
    steps = max(1, int(budget * 60 / cpu_per_step(preset, overrides, work)))
    out = work / f"{name}_seed{seed}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.process_time()
    api.train(preset, out, steps=steps, seed=seed, overrides={**QUIET, **overrides})
    cpu = time.process_time() - start
    scores = evaluate(out, "fashion-mnist:test", metrics=METRICS, n=n, seed=10_000 + seed)
    row = {k: float(scores[k]) for k in KEYS if k in scores}
    return {**row, "steps": steps, "cpu_seconds": cpu, "run": str(out)}


def _one_run(args: tuple) -> dict:
    return one_run(*args)


def gamma_plot(runs: dict[str, Path], out: Path) -> Path | None:
    """gamma of each attention block against the step, one line per run and block."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    drawn = 0
    for name, run in runs.items():
        stats = run / "stats.jsonl"
        if not stats.exists():
            continue
        rows = [json.loads(line) for line in stats.read_text().splitlines() if line.strip()]
        for k in sorted({k for r in rows for k in r if k.startswith("attn_gamma/")}):
            pts = [(r["step"], r[k]) for r in rows if k in r]
            ax.plot(*zip(*pts), label=f"{name} {k[len('attn_gamma/') :]}")
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set(xlabel="step", ylabel="gamma", title="SAGAN self-attention gamma")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--configs",
        default="dcgan,sagan,transgan,lapgan",
        help="comma list of " + ", ".join(CONFIGS),
    )
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=6.0, help="CPU minutes of training per run")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (one thread each)")
    p.add_argument("--n", type=int, default=5000, help="samples per metric")
    p.add_argument(
        "--cache", default=str(ROOT / "benchmarks" / "results" / "architectures_fashion.json")
    )
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gankit-architectures"))
    p.add_argument("--gamma-plot", default=str(ROOT / "docs" / "images" / "sagan_gamma.png"))
    args = p.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    if args.seeds < 1 or args.n < 2 or args.budget <= 0:
        print("--seeds >= 1, --n >= 2 and --budget > 0 are needed", file=sys.stderr)
        return 2
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        print(f"unknown config {unknown[0]}; valid: {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    missing = [c for c in configs if CONFIGS[c][0] not in PRESETS]
    for c in missing:
        print(f"{c}: preset {CONFIGS[c][0]} does not exist in this checkout; skipped")
    configs = [c for c in configs if c not in missing]
    cache, work = Path(args.cache), Path(args.work)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [
        (c, s)
        for c in configs
        for s in range(args.seeds)
        if key(c, s, args.budget, args.n) not in results
    ]
    print(f"training {todo} ...", file=sys.stderr, flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        jobs = [(c, s, args.budget, args.n, work) for c, s in todo]
        for (c, s), r in zip(todo, pool.map(_one_run, jobs), strict=True):
            results[key(c, s, args.budget, args.n)] = r
            print(f"{c} seed {s}: FID {r.get('fid', float('nan')):.2f}, {r['steps']} steps, "
                  f"{r['cpu_seconds'] / 60:.1f} CPU min", flush=True)  # fmt: skip
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(results, indent=1, sort_keys=True))
    print(
        f"\nFashion-MNIST test split, {args.n} samples, domain:fashion-mnist features, "
        f"{args.budget} CPU min of training per run, seeds 0-{args.seeds - 1}, mean +- std\n\n"
        "| config | what | steps | FID | KID | precision | recall | classes covered "
        "| class KL |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for c in configs:
        runs = [results[key(c, s, args.budget, args.n)] for s in range(args.seeds)]
        cells = []
        for k in KEYS:
            vals = [r[k] for r in runs if k in r]
            cells.append(f"{np.mean(vals):.3f} ± {np.std(vals):.3f}" if vals else "n/a")
        print(f"| {c} | {CONFIGS[c][2]} | {runs[0]['steps']} | " + " | ".join(cells) + " |")
    sagan_runs = {c: work / f"{c}_seed0" for c in configs if c.startswith("sagan")}
    made = gamma_plot(sagan_runs, Path(args.gamma_plot)) if sagan_runs else None
    if made:
        print(f"\ngamma plot: {made}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
