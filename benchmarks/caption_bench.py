"""What the caption benchmarks (text_to_image_fashion.py, stackgan_fashion.py) share: the
held-out captions they score with, the real-image reference for them, the cache key, one
training run, and the command-line loop (train what the cache lacks, print and write the
table, draw the picture).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from bench_cache import code_fingerprint

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EXTRACTOR = "domain:fashion-mnist"
REFERENCE = "fashion-mnist:test"
QUIET = {"diagnose.enabled": False, "eval.metrics": "", "log.progress": False}
PAIRS = [{"b": b, "s": s} for b, s in itertools.product(("dark", "light"), ("small", "large"))]
PER_CLASS = 100  # held-out-caption samples per class for the accuracy
Configs = dict[str, tuple[str, dict, str]]  # name -> (preset, overrides, what)


def key(configs: Configs, name: str, seed: int, n: int, fingerprint: str) -> str:
    overrides = json.dumps(configs[name][1], sort_keys=True)
    return f"{name}/seed{seed}/{overrides}/n{n}/{fingerprint}"


def held_out(label: int) -> list[str]:
    """The held-out-phrasing captions of class ``label`` ("t-shirt, small and dark"), over
    the four (brightness, size) word pairs."""
    from gankit.text.captions import FASHION, held_out_captions

    out = [c for words in PAIRS for c in held_out_captions(FASHION, label, words)]
    if not out:  # templates naming one attribute only
        singles = [{"b": w} for w in ("dark", "light")] + [{"s": w} for w in ("small", "large")]
        out = [c for words in singles for c in held_out_captions(FASHION, label, words)]
    return out


def held_out_set() -> tuple[list[str], torch.Tensor]:
    """PER_CLASS held-out captions per class (the class's pool in turn) and their classes."""
    captions, labels = [], []
    for c in range(10):
        pool = held_out(c)
        captions += [pool[i % len(pool)] for i in range(PER_CLASS)]
        labels += [c] * PER_CLASS
    return captions, torch.tensor(labels)


def real_reference(net) -> dict:
    """The domain classifier's accuracy on the real test images the held-out captions
    describe: per class and word pair, the test images of that class whose measured thirds
    are those words (the caption recipe's own rule); mean over the 40 (class, pair) cells,
    weighted as the held-out set weights them. What a generator that drew real images for
    each caption would score."""
    from gankit.data import load_dataset
    from gankit.data.images import from_unit_range
    from gankit.metrics.classifier import accuracy
    from gankit.text.captions import FASHION, attribute_codes, measure, thresholds

    train, test = (load_dataset("fashion-mnist", split=s) for s in ("train", "test"))
    cuts = thresholds(measure(FASHION, from_unit_range(train.x[:, 0]).numpy()),
                      train.y.numpy(), 10)  # fmt: skip
    y = test.y.numpy()
    codes = attribute_codes(measure(FASHION, from_unit_range(test.x[:, 0]).numpy()), y, cuts)
    cells = []
    for c in range(10):
        for words in PAIRS:
            b = -1 if words["b"] == "dark" else 1
            s = -1 if words["s"] == "small" else 1
            m = (y == c) & (codes["b"] == b) & (codes["s"] == s)
            idx = torch.from_numpy(np.flatnonzero(m))
            cells.append(accuracy(net, test.x[idx], test.y[idx]))
    return {"real_acc_held_out": float(np.mean(cells)), "real_acc_min_cell": float(min(cells))}


def train_run(preset: str, overrides: dict, seed: int, out: Path, steps: int | None):
    """Train one run from scratch into ``out``: (CPU seconds, steps)."""
    from gankit import api

    shutil.rmtree(out, ignore_errors=True)
    extra = {} if steps is None else {"train.steps": steps}
    start = time.process_time()
    api.train(preset, out, seed=seed, overrides={**QUIET, **overrides, **extra})
    cpu = time.process_time() - start
    return cpu, json.loads((out / "config.json").read_text())["train"]["steps"]


def run_cli(
    argv: list[str] | None,
    *,
    doc: str,
    script: Path,
    title: str,
    configs: Configs,
    default_configs: str,
    name: str,
    picture_name: str,
    one_run: Callable[[str, int, int, Path, int | None], dict],
    table: Callable[[list[str], dict, int, int], str],
    picture: Callable[[Path, Path], Path],
) -> int:
    """The benchmark's command line: train the configs x seeds the cache lacks (each result
    cached as soon as it is scored), then print the table, write it and the picture."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--configs", default=default_configs, help="comma list of " + ", ".join(configs))
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--n", type=int, default=2000, help="samples / test images per FID")
    p.add_argument("--steps", type=int, help="train.steps (default: the preset's)")
    p.add_argument("--cache", default=str(RESULTS / f"{name}.json"))
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / f"gankit-{name}"))
    p.add_argument("--table", default=str(RESULTS / f"{name}.md"))
    p.add_argument("--picture", default=str(ROOT / "docs" / "images" / picture_name))
    args = p.parse_args(argv)
    chosen = [c for c in args.configs.split(",") if c]
    if args.seeds < 1 or args.n < 2 or not chosen or any(c not in configs for c in chosen):
        print(f"--seeds >= 1, --n >= 2, configs from {', '.join(configs)}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    cache, work = Path(args.cache), Path(args.work)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    tag = "" if args.steps is None else f"/steps{args.steps}"
    # once: the code a long benchmark started with keys all of its runs
    fingerprint = code_fingerprint(script, Path(__file__))
    for c, s in itertools.product(chosen, range(args.seeds)):
        k = key(configs, c, s, args.n, fingerprint) + tag
        if k in results:
            continue
        print(f"training {c} seed {s} ...", file=sys.stderr, flush=True)
        results[k] = one_run(c, s, args.n, work, args.steps)
        print(f"{k}: {json.dumps(results[k])}", flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(results, indent=1, sort_keys=True))
    if tag:  # a pilot at other steps: its own keys
        results = {k.removesuffix(tag): v for k, v in results.items() if k.endswith(tag)}
    mine = {c: {s: results[key(configs, c, s, args.n, fingerprint)] for s in range(args.seeds)}
            for c in chosen}  # fmt: skip
    text = table(chosen, mine, args.seeds, args.n)
    print("\n" + text)
    steps = "" if args.steps is None else f" --steps {args.steps}"
    Path(args.table).write_text(
        f"# {title}\n\n`OMP_NUM_THREADS=1 python benchmarks/{script.name} --configs "
        f"{args.configs} --seeds {args.seeds} --n {args.n}{steps}`\n\n" + text
    )
    run = Path(mine[chosen[0]][0]["run"])
    if (run / "config.json").exists():
        print(f"picture: {picture(run, Path(args.picture))}")
    return 0


if __name__ == "__main__":
    argparse.ArgumentParser(
        description="shared parts of the caption benchmarks: run text_to_image_fashion.py "
        "or stackgan_fashion.py"
    ).parse_args()
