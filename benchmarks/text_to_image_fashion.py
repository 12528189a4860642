"""GAN-INT-CLS on Fashion-MNIST captions: the four-row ablation of Reed et al. 2016 (GAN,
GAN-CLS, GAN-INT, GAN-INT-CLS; their Sec. 5 and Table 1 / Fig. 3 compare the same four).

    OMP_NUM_THREADS=1 python benchmarks/text_to_image_fashion.py [--configs ...] [--seeds 1]

Trains preset gan-int-cls-fashion with the two switches (options.matching_aware,
options.interpolation) through gankit's one loop, then scores each run's final EMA generator:

* class accuracy on held-out captions: 10 classes x 100 samples, each sample's caption one of
  the held-out phrasings of its class (gankit.text.captions.held_out_captions, the four
  (brightness, size) word pairs in turn: benchmarks/stackgan_fashion.held_out); the
  Fashion-MNIST domain classifier must name the caption's class;
* attribute agreement: per class, 100 noise vectors, each drawn under "a dark X" and
  "a light X" (and "a small X" / "a large X"); the fraction of the 100 pairs in which the
  "dark" sample's mean item intensity is below the "light" one's (the "small" sample's item
  area below the "large" one's), both measured as the captions were made
  (gankit.text.captions.measure); the mean over classes and the worst class;
* domain FID (``domain:fashion-mnist`` features) of --n samples, each under the caption of
  one of the first --n test images of fashion-captions, against --n test images.

Finished runs are cached in --cache keyed by config, seed, n and the code fingerprint
(bench_cache.code_fingerprint). The table goes to stdout and --table; a caption grid (rows:
held-out captions, columns: noise) of the first config to --picture.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_cache import code_fingerprint
from stackgan_fashion import held_out

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EXTRACTOR = "domain:fashion-mnist"
REFERENCE = "fashion-mnist:test"
QUIET = {"diagnose.enabled": False, "eval.metrics": "", "log.progress": False}
OFF = {"options.matching_aware": False, "options.interpolation": False}
CONFIGS: dict[str, tuple[str, dict, str]] = {
    "gan_int_cls": ("gan-int-cls-fashion", {}, "GAN-INT-CLS: matching-aware D + interpolation"),
    "gan_cls": ("gan-int-cls-fashion", {"options.interpolation": False}, "GAN-CLS"),
    "gan_int": ("gan-int-cls-fashion", {"options.matching_aware": False}, "GAN-INT"),
    "gan": ("gan-int-cls-fashion", OFF, "GAN: text to G and D only"),
}
PER_CLASS = 100


def key(name: str, seed: int, n: int) -> str:
    overrides = json.dumps(CONFIGS[name][1], sort_keys=True)
    return f"{name}/seed{seed}/{overrides}/n{n}/{code_fingerprint(Path(__file__))}"


def agreement(G, cls: str, low: str, high: str, slot: str, seed: int) -> float:
    """Fraction of PER_CLASS shared-noise pairs where the ``low`` caption's sample measures
    below the ``high`` caption's on ``slot`` (b: mean item intensity, s: item area)."""
    from gankit.data.images import from_unit_range
    from gankit.text.captions import FASHION, measure

    values = []
    for word in (low, high):
        t = G.embed([f"a {word} {cls}"])
        x = G.sample(PER_CLASS, seed=seed, text=t)
        values.append(measure(FASHION, from_unit_range(x[:, 0]).numpy())[slot])
    return float(np.mean(values[0] < values[1]))


def score(run: Path, n: int, seed: int) -> dict:
    from gankit.data import load_dataset
    from gankit.metrics.classifier import accuracy, load_classifier
    from gankit.metrics.evaluate import evaluate
    from gankit.runs import load_generator
    from gankit.text.captions import FASHION

    G = load_generator(run)
    test = load_dataset("fashion-captions", split="test")
    x = G.sample(n, seed=10_000 + seed, text=test.fields["text"][:n])
    # evaluate first: it trains the domain classifier on first use, load_classifier does not
    out = {"fid": float(evaluate(x, REFERENCE, metrics="fid", n=n, extractor=EXTRACTOR)["fid"])}
    net, _ = load_classifier("fashion-mnist")
    captions, labels = [], []
    for c in range(10):
        pool = held_out(c)
        captions += [pool[i % len(pool)] for i in range(PER_CLASS)]
        labels += [c] * PER_CLASS
    x = G.sample(len(captions), seed=20_000 + seed, text=G.embed(captions))
    out["acc_held_out"] = accuracy(net, x, torch.tensor(labels))
    bright = [agreement(G, w, "dark", "light", "b", 30_000 + seed) for w in FASHION.class_words]
    size = [agreement(G, w, "small", "large", "s", 40_000 + seed) for w in FASHION.class_words]
    out.update(bright_mean=float(np.mean(bright)), bright_min=float(np.min(bright)),
               size_mean=float(np.mean(size)), size_min=float(np.min(size)),
               bright_per_class=bright, size_per_class=size)  # fmt: skip
    return out


def one_run(name: str, seed: int, n: int, work: Path, steps: int | None) -> dict:
    from gankit import api

    preset, overrides, _ = CONFIGS[name]
    out = work / f"{name}_seed{seed}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.process_time()
    extra = {} if steps is None else {"train.steps": steps}
    api.train(preset, out, seed=seed, overrides={**QUIET, **overrides, **extra})
    cpu = time.process_time() - start
    steps = json.loads((out / "config.json").read_text())["train"]["steps"]
    return {**score(out, n, seed), "cpu_seconds": cpu, "steps": steps, "run": str(out)}


def picture(run: Path, out: Path, seed: int = 0) -> Path:
    """Rows: one held-out caption per class; 8 columns of noise, the same in every row."""
    from gankit.data.images import from_unit_range
    from gankit.runs import load_generator
    from gankit.viz import image_grid, save_png

    G = load_generator(run)
    rows = [G.sample(8, seed=seed, text=G.embed([held_out(c)[0]])) for c in range(10)]
    return save_png(image_grid(from_unit_range(torch.cat(rows)).numpy(), nrow=8), out)


def table(configs, results, seeds, n) -> str:
    lines = [
        f"Fashion-MNIST captions; accuracy: held-out captions, 10 classes x {PER_CLASS}, "
        f"domain classifier; attribute agreement: {PER_CLASS} shared-noise pairs per class, "
        f"mean over classes (worst class); FID: {n} samples vs {n} test images ({EXTRACTOR}); "
        f"seeds 0-{seeds - 1}, mean +- std, one thread.",
        "",
        "| run | what | steps | held-out class accuracy | dark < light | small < large "
        "| domain FID | CPU min |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(runs, k, fmt=".3f"):
        v = [r[k] for r in runs]
        return f"{np.mean(v):{fmt}} ± {np.std(v):{fmt}}" if len(v) > 1 else f"{v[0]:{fmt}}"

    for c in configs:
        runs = [results[key(c, s, n)] for s in range(seeds)]
        lines.append(
            f"| {c} | {CONFIGS[c][2]} | {runs[0]['steps']} | {cell(runs, 'acc_held_out')} "
            f"| {cell(runs, 'bright_mean')} ({min(r['bright_min'] for r in runs):.2f}) "
            f"| {cell(runs, 'size_mean')} ({min(r['size_min'] for r in runs):.2f}) "
            f"| {cell(runs, 'fid', '.2f')} "
            f"| {np.mean([r['cpu_seconds'] for r in runs]) / 60:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--configs", default=",".join(CONFIGS), help="comma list of " + ", ".join(CONFIGS)
    )
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--n", type=int, default=2000, help="samples / test images per FID")
    p.add_argument("--steps", type=int, help="train.steps (default: the preset's)")
    p.add_argument("--cache", default=str(RESULTS / "text_to_image_fashion.json"))
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gankit-text-to-image"))
    p.add_argument("--table", default=str(RESULTS / "text_to_image_fashion.md"))
    p.add_argument("--picture", default=str(ROOT / "docs" / "images" / "gan-int-cls-fashion.png"))
    args = p.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    if args.seeds < 1 or args.n < 2 or not configs or any(c not in CONFIGS for c in configs):
        print(f"--seeds >= 1, --n >= 2, configs from {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    cache, work = Path(args.cache), Path(args.work)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    tag = "" if args.steps is None else f"/steps{args.steps}"
    for c, s in itertools.product(configs, range(args.seeds)):
        k = key(c, s, args.n) + tag
        if k in results:
            continue
        print(f"training {c} seed {s} ...", file=sys.stderr, flush=True)
        results[k] = one_run(c, s, args.n, work, args.steps)
        print(f"{c} seed {s}: {json.dumps(results[k])}", flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(results, indent=1, sort_keys=True))
    if tag:  # a pilot at other steps: its own keys
        results = {k.removesuffix(tag): v for k, v in results.items() if k.endswith(tag)}
    text = table(configs, results, args.seeds, args.n)
    print("\n" + text)
    steps = "" if args.steps is None else f" --steps {args.steps}"
    Path(args.table).write_text(
        "# GAN-INT-CLS on Fashion-MNIST captions\n\n"
        f"`OMP_NUM_THREADS=1 python benchmarks/text_to_image_fashion.py --configs {args.configs} "
        f"--seeds {args.seeds} --n {args.n}{steps}`\n\n" + text
    )
    run = Path(results[key(configs[0], 0, args.n)]["run"])
    if (run / "config.json").exists():
        print(f"picture: {picture(run, Path(args.picture))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
