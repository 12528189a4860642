"""Adversarial segmentation on the procedural lesion set: cross-entropy, adversarial-only and
hybrid training at 50, 200 and 2000 labelled images (Kohl et al. 2017, Table 1; Luc et al.
2016, Eq. 3; lecture 004: "adversarial losses help most with little data").

    OMP_NUM_THREADS=1 python benchmarks/segmentation_lesions.py [--steps 800] [--seeds 0,1,2]

Each cell trains preset segmentation-lesions (U-Net S of width 16, PatchGAN D of width 16,
batch 16, Adam: S 1e-3, D 2e-4; gankit/variants/adv_segmentation.py) with
``options.objective`` = ce / adversarial / hybrid (lambda = the preset's options.adv_weight)
on the first n lesion training images (data.n_samples = n), for the same number of steps
(--steps) whatever n, one thread, seeds --seeds (network initialisation and minibatch order;
the images are the same for every seed). Every run is scored on the 500 images of the test
split (disjoint from training by seed, gankit/data/segmentation.py): Dice, per-pixel
sensitivity and specificity, lesion detection rate (gankit/metrics/segmentation.py), the
mean ± std (ddof 1) over the seeds. The CPU seconds of each run are time.process_time.

Finished runs are cached in --cache, keyed by cell, seed, steps and the fingerprint of
gankit's source and the environment (bench_cache), so a rerun trains again after any change
of the code. The table goes to --table; --picture draws test images with the ce and hybrid
predictions at the smallest n (seed of the first) and the true masks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_cache import code_fingerprint

from gankit import api
from gankit.data.images import from_unit_range
from gankit.data.segmentation import lesion_set
from gankit.metrics.segmentation import evaluate_segmentation
from gankit.runs import load_model
from gankit.viz import image_grid, save_png

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = code_fingerprint(Path(__file__))
PRESET = "segmentation-lesions"
QUIET = {"diagnose.enabled": False, "eval.metrics": "", "log.progress": False,
         "log.sample_every": 0, "log.checkpoint_every": 100000}  # fmt: skip
METRICS = ("dice", "sensitivity", "specificity", "lesion_detection")


def key(objective: str, n: int, seed: int, steps: int) -> str:
    return f"{objective}/n{n}/seed{seed}/steps{steps}/{FINGERPRINT}"


def one_run(objective: str, n: int, seed: int, steps: int, work: Path) -> dict:
    out = work / f"{objective}_n{n}_seed{seed}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.process_time()
    over = {**QUIET, "options.objective": objective, "data.n_samples": n}
    api.train(PRESET, out, steps=steps, seed=seed, overrides=over)
    cpu = time.process_time() - start
    scores = evaluate_segmentation(out, n=500)
    return {"cpu_s": cpu, **{m: scores[m] for m in METRICS}, "lesions": scores["lesions"]}


def cell(rows: list[dict], metric: str) -> str:
    v = np.array([r[metric] for r in rows], dtype=np.float64)
    sd = f" ± {v.std(ddof=1):.3f}" if len(v) > 1 else ""
    return f"{v.mean():.3f}{sd}"


def table(results: dict, objectives, sizes, seeds, steps: int) -> str:
    lines = [
        "| n train | objective | Dice | sensitivity | specificity | lesion detection | "
        "seeds | CPU min / run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        for o in objectives:
            rows = [results[k] for s in seeds if (k := key(o, n, s, steps)) in results]
            if not rows:
                lines.append(f"| {n} | {o} | not run | | | | 0 | |")
                continue
            cpu = np.mean([r["cpu_s"] for r in rows]) / 60
            cells = " | ".join(cell(rows, m) for m in METRICS)
            lines.append(f"| {n} | {o} | {cells} | {len(rows)} | {cpu:.2f} |")
    return "\n".join(lines)


def picture(work: Path, n: int, seed: int, out: Path) -> None:
    """Rows: 10 test images, ce prediction, hybrid prediction, true mask."""
    test = lesion_set("test", 10)
    rows = [from_unit_range(test.x).numpy()]
    for objective in ("ce", "hybrid"):
        run = work / f"{objective}_n{n}_seed{seed}"
        if not run.exists():
            return
        rows.append((load_model(run)(test.x) * 255).to(torch.uint8).numpy())
    rows.append((test.fields["mask"] * 255).to(torch.uint8).numpy())
    out.parent.mkdir(parents=True, exist_ok=True)
    save_png(image_grid(np.concatenate(rows), nrow=10, min_cell=64), out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objectives", default="ce,adversarial,hybrid")
    p.add_argument("--sizes", default="50,200,2000", help="training images per cell")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=800, help="training steps of every run")
    p.add_argument("--cache", default=str(ROOT / "benchmarks/results/segmentation_lesions.json"))
    p.add_argument("--table", default=str(ROOT / "benchmarks/results/segmentation_lesions.md"))
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gankit-seg-lesions"))
    p.add_argument("--picture", default=str(ROOT / "docs/images/segmentation-lesions.png"))
    args = p.parse_args()
    objectives = args.objectives.split(",")
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    cache, work = Path(args.cache), Path(args.work)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    torch.set_num_threads(1)
    for n in sizes:
        for seed in seeds:
            for o in objectives:
                k = key(o, n, seed, args.steps)
                if k in results:
                    continue
                results[k] = one_run(o, n, seed, args.steps, work)
                print(k, json.dumps(results[k]), flush=True)
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps(results, indent=1, sort_keys=True))
    text = table(results, objectives, sizes, seeds, args.steps)
    print(text)
    Path(args.table).write_text(text + "\n")
    picture(work, sizes[0], seeds[0], Path(args.picture))


if __name__ == "__main__":
    main()
