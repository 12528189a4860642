"""Benchmark: does InfoGAN's categorical code find the classes it was never told about?

Issue 5 acceptance: trained without labels, the categorical code matches the true classes with
at least 60% accuracy under the best one-to-one matching (Hungarian algorithm). Measured as
in Chen et al. 2016, Sec. 7.1: Q's most likely code value for each real test image, matched to
the test labels. Printed beside it: chance level (the largest class share) and k-means on the
raw pixels with the same matching, the textbook unsupervised baseline, run in this process.
With ``--classifier`` also the generated side: samples for each code value, classified by the
dataset's domain classifier, matched the same way.

    nice -n 10 python benchmarks/infogan_match.py --preset infogan-digits --out runs/bench-info
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gankit import api
from gankit.data import load_dataset
from gankit.metrics.conditional import (
    code_class_accuracy,
    infogan_code_predictions,
    matched_accuracy,
)
from gankit.presets import preset_config
from gankit.runs import load_generator

TARGET = 0.60


def kmeans_baseline(x: torch.Tensor, y: torch.Tensor, k: int, seed: int) -> float:
    from sklearn.cluster import KMeans

    codes = KMeans(k, n_init=10, random_state=seed).fit_predict(x.flatten(1).numpy())
    return matched_accuracy(codes, y)["accuracy"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--preset", default="infogan-digits", choices=["infogan-digits", "infogan-fashion"]
    )
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--classifier", action="store_true", help="also score generated samples")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    wall0, cpu0 = time.perf_counter(), time.process_time()
    api.train(
        args.preset, args.out, steps=args.steps, seed=args.seed, overrides=args.set, progress=False
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0

    cfg = preset_config(args.preset, args.set)
    d = cfg.data
    test = load_dataset(d.name, split="test", image_size=d.image_size, channels=d.channels)
    pred = infogan_code_predictions(args.out, test.x)
    q = matched_accuracy(pred, test.y)
    chance = float(np.bincount(test.y.numpy()).max() / len(test.y))
    km = kmeans_baseline(test.x, test.y, cfg.options.info_categorical, args.seed)
    report = {
        "preset": args.preset,
        "steps": cfg.train.steps if args.steps is None else args.steps,
        "train_cpu_s": round(cpu, 1),
        "train_wall_s": round(wall, 1),
        "q_matched_accuracy": q["accuracy"],
        "mapping": q["mapping"],
        "chance": chance,
        "kmeans_pixels": km,
        "pass": q["accuracy"] >= TARGET,
    }
    if args.classifier:
        from gankit.metrics.extractors import DomainExtractor

        gen = code_class_accuracy(
            load_generator(args.out), DomainExtractor(d.name), n_per_value=500
        )
        report["generated_matched_accuracy"] = gen["accuracy"]
    Path(args.out, "benchmark.json").write_text(json.dumps(report, indent=2))
    verdict = "PASS" if report["pass"] else "FAIL"
    print(f"### {args.preset} ({verdict}: categorical code vs classes >= {TARGET:.0%})\n")
    print(f"- training: {cpu / 60:.1f} CPU min, {wall / 60:.1f} min wall, no labels used")
    print(
        f"- Q's code on the {len(test)} real test images, best one-to-one matching: "
        f"{q['accuracy']:.3f} (chance {chance:.3f}, k-means on pixels {km:.3f}, "
        f"ratio to k-means {q['accuracy'] / km:.2f})"
    )
    if "generated_matched_accuracy" in report:
        print(
            f"- generated side (domain classifier on 500 samples per code value): "
            f"{report['generated_matched_accuracy']:.3f}"
        )
    print(f"- matching code value -> class: {q['mapping']}")
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
