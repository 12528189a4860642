"""Benchmark: the discriminator as a base model for transfer learning on Fashion-MNIST
(issue 18, point 4b).

Trains ``dcgan-fashion`` (seed --seed, the preset's 5 epochs unless --steps; one thread,
timed in process CPU seconds) or takes a run given with --run, then for each N in --labels
(default 10, 100, 1000 labels per class) runs gankit.applications.transfer: D's conv trunk
with a new linear class head, all layers fine-tuned on N labelled training images per class
(--draws draws, seed --seed), beside the same network from random weights trained the same
way; test accuracy on the test split (all 10,000 images unless --test-n). Printed and written
to benchmarks/results/transfer_fashion.md: mean ± std (ddof=1) over the draws for both inits,
the paired per-draw differences, steps and CPU minutes; the command that produced them.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/transfer_fashion.py

The same figures come from the command line (the defaults are the same):
``gankit train dcgan-fashion --out RUN --seed 0`` then
``gankit transfer RUN --labels-per-class N --draws 3 --seed 0``.
The trained run is cached under --work and each N's result in --cache, keyed by what they ran
and bench_cache.code_fingerprint() (gankit's source, this script, the environment), so any
change of the code trains and measures again.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cache import code_fingerprint, environment  # noqa: E402

PRESET = "dcgan-fashion"


def train(work: Path, seed: int, steps: int | None, fingerprint: str) -> tuple[Path, dict]:
    from gankit import api

    run = work / f"{PRESET}-seed{seed}-steps{steps or 'preset'}-{fingerprint}"
    meta = run / "bench_train.json"
    if meta.is_file():
        return run, json.loads(meta.read_text())
    shutil.rmtree(run, ignore_errors=True)  # an unfinished run of this very code
    start, wall = time.process_time(), time.perf_counter()
    api.train(PRESET, run, seed=seed, steps=steps, overrides={"log.progress": False})
    info = {
        "cpu_seconds": round(time.process_time() - start, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "steps": json.loads((run / "config.json").read_text())["train"]["steps"],
        "seed": seed,
    }
    meta.write_text(json.dumps(info))
    return run, info


def command(argv: list[str]) -> str:
    """The command as run: the thread count and niceness it ran under, then the script."""
    prefix = ""
    if "OMP_NUM_THREADS" in os.environ:
        prefix += f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} "
    if os.nice(0) > 0:
        prefix += f"nice -n {os.nice(0)} "
    return prefix + shlex.join(["python", "benchmarks/transfer_fashion.py", *argv])


def markdown(rows: list[dict], info: dict, args: argparse.Namespace, cmd: str, fp: str) -> str:
    test_n = rows[0]["test_n"]
    where = (
        f"all {test_n:,} test images"
        if args.test_n is None
        else f"{test_n} test images drawn with seed {args.seed}"
    )
    total = info.get("cpu_seconds", 0) + sum(r["cpu_seconds"] for r in rows)
    lines = [
        "### The discriminator as a base model on Fashion-MNIST (issue 18)",
        "",
        "```",
        cmd,
        "```",
        "",
        f"- run `{info.get('run', '?')}`: preset `{PRESET}`, seed {info.get('seed', '?')}, "
        f"{info.get('steps', '?')} steps, "
        + (
            f"{info['cpu_seconds'] / 60:.1f} CPU min of training"
            if "cpu_seconds" in info
            else "trained elsewhere (CPU time not known here)"
        ),
        f"- fine-tuning: D's conv trunk + a new linear head on its {rows[0]['head_input']} "
        f"penultimate features, all layers, Adam lr {rows[0]['lr']:g} with cosine decay, batch "
        f"{rows[0]['batch_size']}, shifts up to {rows[0]['augment']['shift']} px"
        f"{', flips' if rows[0]['augment']['flip'] else ', no flips'}; scratch = the same "
        "network from random weights, same labels, head init, steps, batches and shifts",
        f"- {args.draws} draws of N labels per class (seed {args.seed}); tested on {where}; "
        "accuracy mean ± std (ddof=1) over the draws",
        f"- {environment()}; code fingerprint {fp}; {total / 60:.1f} CPU min in all "
        f"(process CPU time{', training included' if 'cpu_seconds' in info else ''})",
        "",
        "| N labels per class | steps | pretrained D | scratch (random init) | "
        "pretrained − scratch: mean (per draw) | draws won | CPU min |",
        "|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        pre, scr = r["results"]["pretrained"], r["results"]["scratch"]
        d = r["pretrained_minus_scratch"]
        per = f"{d['mean']:+.4f} (" + ", ".join(f"{v:+.4f}" for v in d["per_draw"]) + ")"
        lines.append(
            f"| {r['labels_per_class']} | {r['steps']} | {pre['mean']:.4f} ± {pre['std']:.4f} "
            f"| {scr['mean']:.4f} ± {scr['std']:.4f} | {per} | {d['wins']}/{r['draws']} "
            f"| {r['cpu_seconds'] / 60:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="fine-tune this run's discriminator instead of training one")
    p.add_argument("--work", default="runs/bench-transfer-fashion", help="cache of trained runs")
    p.add_argument("--steps", type=int, help="GAN training steps (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="of training, label draws, heads, inits")
    p.add_argument("--labels", default="10,100,1000", help="N labels per class, comma list")
    p.add_argument("--draws", type=int, default=3)
    p.add_argument("--test-n", type=int, help="test images to score (default: all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cache", default="benchmarks/results/transfer_fashion.json")
    p.add_argument("--results", default="benchmarks/results/transfer_fashion.md")
    args = p.parse_args()
    labels = [int(v) for v in args.labels.split(",") if v]

    import torch

    from gankit.applications.transfer import table, transfer

    torch.set_num_threads(args.threads)
    fp = code_fingerprint(Path(__file__))
    if args.run:  # a run trained earlier; this script's own runs carry their timing
        run = Path(args.run)
        meta = run / "bench_train.json"
        if meta.is_file():
            info = json.loads(meta.read_text())
        else:  # trained elsewhere: what its config says, no CPU time
            cfg = json.loads((run / "config.json").read_text())["train"]
            info = {"steps": cfg["steps"], "seed": cfg["seed"]}
    else:
        run, info = train(Path(args.work), args.seed, args.steps, fp)
    info["run"] = str(run)
    cache = Path(args.cache)
    results = json.loads(cache.read_text()) if cache.is_file() else {}
    rows = []
    for n in labels:
        key = (
            f"{run.resolve()}/N={n}/draws={args.draws}/seed={args.seed}/"
            f"test_n={args.test_n or 'all'}/threads={args.threads}/{fp}"
        )
        if key not in results:
            start = time.process_time()
            report = transfer(
                run,
                n,
                draws=args.draws,
                seed=args.seed,
                data="fashion-mnist",
                test_n=args.test_n,
                progress=lambda msg: print(msg, file=sys.stderr, flush=True),
            )
            report["cpu_seconds"] = round(time.process_time() - start, 1)
            results[key] = report
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(results, indent=1, sort_keys=True))
        rows.append(results[key])
        print(table(results[key]), file=sys.stderr, flush=True)
    text = markdown(rows, info, args, command(sys.argv[1:]), fp)
    print(text)
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
