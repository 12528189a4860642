"""Does `toy-sine` (lecture 002's x2 = sin(x1), x1 ~ U[0, 2pi]) learn at its preset's settings?

For each seed: train the preset, draw 2500 samples from the final generator and report the
median of |x2 - sin(x1)| (on the curve: <= 0.05) and how many 0.5-wide bins of x1 over
[0, 2pi] hold no sample (covering the whole period: 0). Prints a markdown table.

    python benchmarks/toy_sine.py --seeds 3
    python benchmarks/toy_sine.py --seeds 3 --set train.d_steps=1 --set train.lr_decay=0
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import numpy as np
import torch

N_SAMPLES = 2500


def one_run(seed: int, overrides: list[str]) -> dict:
    import gankit

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        over = [*overrides, f"train.seed={seed}", "log.progress=false"]
        run = gankit.train("toy-sine", out=f"{tmp}/run", overrides=over)
        cpu = time.process_time() - t0
        x = gankit.load_generator(run.path).sample(N_SAMPLES, seed=0).numpy()
    bins = np.histogram(x[:, 0], bins=np.arange(0.0, 2 * math.pi + 0.5, 0.5))[0]
    return {
        "median_error": float(np.median(np.abs(x[:, 1] - np.sin(x[:, 0])))),
        "empty_bins": int((bins == 0).sum()),
        "x1_range": (float(x[:, 0].min()), float(x[:, 0].max())),
        "cpu_seconds": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error("--seeds must be at least 1")
    print("| seed | median abs(x2 - sin x1) | empty 0.5-bins of [0, 2pi] | x1 range | CPU s |")
    print("|---|---|---|---|---|")
    for seed in range(args.seeds):
        r = one_run(seed, args.set)
        lo, hi = r["x1_range"]
        print(
            f"| {seed} | {r['median_error']:.4f} | {r['empty_bins']} | {lo:.2f} .. {hi:.2f} "
            f"| {r['cpu_seconds']:.0f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
