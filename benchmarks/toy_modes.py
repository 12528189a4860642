"""Mode coverage on the 2-D ring (8 modes) and grid (25 modes), the tables of VEEGAN
(Srivastava et al. 2017, Table 1) and PacGAN (Lin et al. 2018, Tables 2-3), for the vanilla
GAN and for each relevant trick, over several seeds.

Every run trains a preset (plus the trick's overrides) through gankit's one loop, draws 2500
samples from the final generator (its EMA when the run keeps one) and scores them with
gankit.metrics.modes.mode_coverage: modes captured (>= 1 sample within 3 std of the mode),
high-quality fraction (samples within 3 std of their nearest mode) and the reverse KL of the
high-quality histogram over modes to the uniform one. Results are mean +- std over seeds,
written to docs/benchmarks.md under "## Toy mode coverage" with the command that made them; a
hand-written "### What the figures say" at the end of that section is kept.

    python benchmarks/toy_modes.py                        # everything, 5 seeds (long)
    python benchmarks/toy_modes.py --configs best --seeds 5
    python benchmarks/toy_modes.py --configs vanilla,pack4 --datasets ring --seeds 2 --no-write

Each run uses one torch thread (tiny MLPs are much faster so); --jobs runs several at once.
Finished runs are cached in --cache, keyed by their config and by a fingerprint of gankit's
source and environment (benchmarks/bench_cache.py), so an interrupted benchmark picks up
where it stopped and a code or machine change re-runs everything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from bench_cache import code_fingerprint

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = code_fingerprint()  # cached runs are reused only by the same code and machine
SECTION = "## Toy mode coverage"
NOTES = "### What the figures say"  # hand-written, kept when the tables are rewritten
N_SAMPLES = 2500  # as in PacGAN's evaluation

RING, GRID, BOTH = ("ring",), ("grid",), ("ring", "grid")
# name -> (preset, overrides, what it is, datasets). "{data}" expands to ring / grid; the trick
# overrides follow each paper's recommended setting where it gives one. To keep the whole
# benchmark under two CPU hours (1.7 h measured, one thread), the cheaper-to-reject tricks run
# on the ring only.
CONFIGS: dict[str, tuple[str, dict, str, tuple[str, ...]]] = {
    "vanilla": ("toy-{data}", {}, "the toy preset as is (non-saturating GAN, Adam 1e-3)", BOTH),
    "collapse": ("toy-ring-collapse", {}, "preset toy-ring-collapse", RING),
    "label_smoothing": (
        "toy-{data}",
        {"tricks.label_smoothing": 0.1},
        "Salimans et al. 2016 (0.9)",
        RING,
    ),
    "instance_noise": (
        "toy-{data}",
        {"tricks.instance_noise": 0.1},
        "Sonderby et al. 2016 (0.1, linear)",
        RING,
    ),
    "minibatch_disc": (
        "toy-{data}",
        {"tricks.minibatch_disc": True, "tricks.mbd_kernels": 10, "tricks.mbd_dims": 5},
        "Salimans et al. 2016 (B=10, C=5)",
        BOTH,
    ),
    "spectral_norm": ("toy-{data}", {"tricks.spectral_norm": True}, "Miyato et al. 2018", RING),
    "wgan_gp": (
        "toy-{data}",
        {"train.loss": "wgan-gp", "train.d_steps": 5, "train.beta1": 0.0, "train.beta2": 0.9},
        "Gulrajani et al. 2017 (n_critic 5, Adam 0/0.9)",
        BOTH,
    ),
    "unrolled5": ("toy-{data}", {"tricks.unrolled_steps": 5}, "Metz et al. 2016", BOTH),
    "pack4": ("toy-{data}", {"tricks.pack": 4}, "PacGAN4, Lin et al. 2018", BOTH),
    "ema": ("toy-{data}", {"train.ema": 0.99}, "EMA of G, Yazici et al. 2019", RING),
    # each trick at its paper's settings for these toys (issue 19; docs/tricks.md says why)
    "spectral_norm_paper": (
        "toy-{data}",
        {"tricks.spectral_norm": True, "tricks.sn_gain": 100.0, "train.lr_decay": 0.5},
        "spectral norm with a Lipschitz gain K = 100 (~ 1 / the modes' std), lr decay",
        RING,
    ),
    "wgan_gp_paper": (
        "toy-{data}",
        {
            "train.loss": "wgan-gp",
            "tricks.gp_weight": 0.1,
            "train.d_steps": 5,
            "train.beta1": 0.5,
            "train.beta2": 0.9,
            "train.lr_decay": 0.5,
        },
        "WGAN-GP with the authors' toy lambda 0.1 (n_critic 5, Adam 0.5/0.9), lr decay",
        RING,
    ),
    "unrolled5_paper": (
        "toy-ring-collapse",
        {"tricks.unrolled_steps": 5, "train.lr_g": 1e-3, "train.lr_d": 1e-4},
        "toy-ring-collapse unrolled 5 steps at Metz et al.'s rates (lr_D 1e-4, lr_G 1e-3)",
        RING,
    ),
    "pack4_paper": (
        "toy-{data}",
        {"tricks.pack": 4, "train.batch_size": 1024, "train.lr_decay": 0.5},
        "PacGAN4 with the batch counted in packs (256 packs of 4, as Lin et al.), lr decay",
        RING,
    ),
    # ablations of the best presets: each without one of its two ingredients
    "lr_decay": (
        "toy-{data}",
        {"train.lr_decay": 0.5},
        "lr decay over the last half (toy-ring-best without its 2 D steps)",
        RING,
    ),
    "d_steps2": (
        "toy-{data}",
        {"train.d_steps": 2},
        "2 D steps per G step (toy-ring-best without its lr decay)",
        RING,
    ),
    "best_no_noise": (
        "toy-{data}-best",
        {"tricks.instance_noise": 0.0},
        "toy-grid-best without its instance noise",
        GRID,
    ),
    "best": (
        "toy-{data}-best",
        {},
        "presets toy-ring-best (2 D steps, lr decay) / toy-grid-best (instance noise 0.5 "
        "annealed to 0 by step 8000, lr decay, 12000 steps)",
        BOTH,
    ),
}


def one_run(preset: str, overrides: dict, seed: int) -> dict:
    """Train, sample 2500 points, score them. Runs in a worker process (one thread)."""
    import torch

    torch.set_num_threads(1)
    import gankit
    from gankit.data.toys import TOY_INFO
    from gankit.metrics.modes import mode_coverage
    from gankit.presets import preset_config

    quiet = {
        "log.progress": False,
        "log.toy_frames": False,
        "log.sample_every": 10**9,
        "diagnose.enabled": False,
    }
    cfg = preset_config(preset, {**overrides, **quiet})
    cfg.log.checkpoint_every = cfg.train.steps
    with tempfile.TemporaryDirectory() as tmp:
        # CPU time is what the budget is about ("a few CPU minutes"); wall time on the shared
        # machine depends on its load
        t0, c0 = time.perf_counter(), time.process_time()
        gankit.train(cfg, Path(tmp) / "run", seed=seed)
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        G = gankit.load_generator(Path(tmp) / "run")
        x = G.sample(N_SAMPLES, seed=10_000 + seed).numpy()
    info = TOY_INFO[cfg.data.name]
    score = mode_coverage(x, info["centers"], info["std"])
    return {
        **score,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "steps": cfg.train.steps,
        "config": changed_keys(preset, overrides),
    }


def jobs_for(configs: list[str], datasets: list[str], seeds: int) -> list[tuple]:
    out = []
    for name in configs:
        preset, overrides, _, on = CONFIGS[name]
        for data in datasets:
            if data not in on:
                continue
            for seed in range(seeds):
                out.append((name, data, preset.format(data=data), overrides, seed))
    return out


def mean_std(values: list[float], fmt: str) -> str:
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=float)
    if v.size == 0:
        return "n/a"
    return f"{fmt.format(v.mean())} ± {fmt.format(v.std())}"


# each trick at gankit's defaults beside its paper's settings (issue 19): (trick, defaults
# row, paper row, what the paper row changes)
PAIRS = [
    ("spectral norm", "spectral_norm", "spectral_norm_paper", "Lipschitz gain K = 100, lr decay"),
    ("WGAN-GP", "wgan_gp", "wgan_gp_paper", "lambda 0.1 (not 10), Adam 0.5/0.9, lr decay"),
    (
        "unrolled D (5 steps)",
        "unrolled5",
        "unrolled5_paper",
        "on toy-ring-collapse (z 256, batch 512) with lr_D 1e-4, lr_G 1e-3",
    ),
    ("PacGAN4", "pack4", "pack4_paper", "batch 1024 = 256 packs (D decisions per step), lr decay"),
]


def _row_runs(results: dict, name: str, data: str, seeds: int) -> list[dict]:
    preset, overrides = CONFIGS[name][0].format(data=data), CONFIGS[name][1]
    runs = [results.get(key(name, data, s, preset, overrides)) for s in range(seeds)]
    return [r for r in runs if r is not None]


def paired_table(results: dict, configs: list[str], seeds: int) -> str:
    """Ring: each trick at gankit's defaults and at its paper's settings, side by side."""
    rows = []
    for trick, plain, paper, what in PAIRS:
        if plain not in configs or paper not in configs:
            continue
        cells = []
        for name in (plain, paper):
            runs = _row_runs(results, name, "ring", seeds)
            if not runs:
                cells.append("n/a")
                continue
            modes = mean_std([r["modes_captured"] for r in runs], "{:.1f}")
            hq = mean_std([100 * r["high_quality_fraction"] for r in runs], "{:.1f}")
            cells.append(f"{modes} modes, {hq}%")
        rows.append(f"| {trick} | {cells[0]} | {cells[1]} | {what} |")
    if not rows:
        return ""
    head = [
        f"**Tricks at gankit's defaults and at their papers' settings** (2D-ring, {seeds} "
        "seeds; modes captured / high-quality %)",
        "",
        "| trick | gankit defaults | paper settings | what the paper settings change |",
        "|---|---|---|---|",
    ]
    return "\n".join(head + rows) + "\n"


def table(results: dict, configs: list[str], datasets: list[str], seeds: int) -> str:
    lines = []
    for data in datasets:
        total = 8 if data == "ring" else 25
        lines += [
            f"**2D-{data}** ({total} modes), {seeds} seeds, {N_SAMPLES} samples each",
            "",
            "| config | what | steps | seeds | modes captured | high-quality % | reverse KL "
            "| CPU s / run | wall s / run |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name in configs:
            runs = _row_runs(results, name, data, seeds)
            if not runs:
                continue
            cpu = [r.get("cpu_seconds") for r in runs]  # runs cached before it was recorded: n/a
            cpu_s = "n/a" if None in cpu else f"{np.mean(cpu):.0f}"
            lines.append(
                f"| {name} | {CONFIGS[name][2]} | {runs[0]['steps']} | {len(runs)} "
                f"| {mean_std([r['modes_captured'] for r in runs], '{:.1f}')} "
                f"| {mean_std([100 * r['high_quality_fraction'] for r in runs], '{:.1f}')} "
                f"| {mean_std([r['reverse_kl'] for r in runs], '{:.3f}')} "
                f"| {cpu_s} | {np.mean([r['seconds'] for r in runs]):.0f} |"
            )
        lines.append("")
    if "ring" in datasets:
        lines.append(paired_table(results, configs, seeds))
    return "\n".join(lines)


def changed_keys(preset: str, overrides: dict) -> dict:
    """The resolved config's values that differ from Config's defaults, as dotted keys."""
    from gankit.config import Config
    from gankit.presets import preset_config

    default = Config().to_dict()
    cfg = preset_config(preset, overrides).to_dict()
    return {
        f"{section}.{k}": v
        for section, values in cfg.items()
        if isinstance(values, dict)
        for k, v in values.items()
        if default[section].get(k) != v
    }


def key(name: str, data: str, seed: int, preset: str, overrides: dict) -> str:
    """Cache key: the run's name, seed, a hash of its resolved config's non-default values and
    the fingerprint of gankit's source and environment (bench_cache.code_fingerprint): a
    changed preset, override, training code, torch or CPU is a new run, never a stale one."""
    cfg = json.dumps(changed_keys(preset, overrides), sort_keys=True)
    config_hash = hashlib.sha256(cfg.encode()).hexdigest()[:12]
    return f"{name}/{data}/{seed}/{config_hash}/{FINGERPRINT}"


def write_section(text: str, path: Path) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md, leaving the rest.
    A hand-written NOTES subsection at the end of the old section (what the figures say) is
    kept after the new tables."""
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    text = text.rstrip("\n") + "\n"
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + len(SECTION))
        old = doc[start : end + 1 if end >= 0 else len(doc)]
        notes = old.find(NOTES)
        if notes >= 0:
            text += "\n" + old[notes:].rstrip("\n") + "\n"
        doc = doc[:start] + text + ("\n" + doc[end + 1 :] if end >= 0 else "")
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--configs", default=",".join(CONFIGS), help="comma list of " + ", ".join(CONFIGS)
    )
    p.add_argument("--datasets", default="ring,grid")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (one thread each)")
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / "results" / "toy_modes.json"))
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    p.add_argument("--no-write", action="store_true", help="print the table only")
    p.add_argument(
        "--table-only", action="store_true", help="no training: the table of the cached runs"
    )
    args = p.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    datasets = [d for d in args.datasets.split(",") if d]
    unknown = [c for c in configs if c not in CONFIGS] + [
        d for d in datasets if d not in ("ring", "grid")
    ]
    if unknown:
        print(f"unknown config or dataset: {', '.join(unknown)}", file=sys.stderr)
        return 2
    cache = Path(args.cache)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [
        j
        for j in jobs_for(configs, datasets, args.seeds)
        if key(j[0], j[1], j[4], j[2], j[3]) not in results and not args.table_only
    ]
    print(f"{len(todo)} runs to do, {len(results)} cached in {cache}", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(one_run, j[2], j[3], j[4]): j for j in todo}
        for fut, job in futures.items():
            r = fut.result()
            results[key(job[0], job[1], job[4], job[2], job[3])] = r
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(results, indent=1, sort_keys=True))
            print(
                f"{job[0]:>16} {job[1]} seed {job[4]}: {r['modes_captured']} modes, "
                f"{100 * r['high_quality_fraction']:.1f}% hq, KL {r['reverse_kl']:.3f}, "
                f"{r['cpu_seconds']:.0f} CPU s ({r['seconds']:.0f} s wall)",
                file=sys.stderr,
                flush=True,
            )
    body = table(results, configs, datasets, args.seeds)
    print(body)
    if not args.no_write:
        cmd = "python benchmarks/toy_modes.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
        text = (
            f"{SECTION}\n\n"
            "VEEGAN / PacGAN protocol: modes captured (a mode with at least one sample within "
            "3 std), high-quality samples (within 3 std of the nearest mode), reverse KL of the "
            "high-quality histogram over modes to uniform. Published anchors: PacGAN4 7.8 / 8 "
            "modes on the ring and 24.8 / 25 on the grid; VEEGAN 8 and 24.6.\n\n"
            f"Command: `{cmd.strip()}` (each run on one CPU thread of a shared 2-core machine; "
            "CPU s / run is the training's CPU time, wall s / run varies with the machine's "
            "load; n/a: runs cached before CPU time was recorded).\n\n" + body
        )
        write_section(text, Path(args.out))
        print(f"wrote {SECTION!r} to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
