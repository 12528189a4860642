"""GAN-INT-CLS on Fashion-MNIST captions: the four-row ablation of Reed et al. 2016 (GAN,
GAN-CLS, GAN-INT, GAN-INT-CLS; their Sec. 5 and Table 1 / Fig. 3 compare the same four).

    OMP_NUM_THREADS=1 python benchmarks/text_to_image_fashion.py [--configs ...] [--seeds 1]

Trains preset gan-int-cls-fashion with the two switches (options.matching_aware,
options.interpolation; GAN-CLS is preset gan-cls-fashion) through gankit's one loop, then
scores each run's final EMA generator:

* class accuracy on held-out captions: 10 classes x 100 samples, each sample's caption one of
  the held-out phrasings of its class (gankit.text.captions.held_out_captions, the four
  (brightness, size) word pairs in turn: caption_bench.held_out); the Fashion-MNIST domain
  classifier must name the caption's class; per class too, and beside it the classifier's
  accuracy on the real test images those captions describe (caption_bench.real_reference);
* attribute agreement: per class, 100 noise vectors, each drawn under "a dark X" and
  "a light X" (and "a small X" / "a large X"); the fraction of the 100 pairs in which the
  "dark" sample's mean item intensity is below the "light" one's (the "small" sample's item
  area below the "large" one's), both measured as the captions were made
  (gankit.text.captions.measure); the mean over classes and the worst class;
* domain FID (``domain:fashion-mnist`` features) of --n samples, each under the caption of
  one of the first --n test images of fashion-captions, against --n test images.

Finished runs are cached in --cache keyed by config, seed, n and the code fingerprint
(bench_cache.code_fingerprint, this script and caption_bench.py included). The table goes
to stdout and --table; a caption grid (rows: held-out captions, columns: noise) of the first
config to --picture.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from caption_bench import (
    EXTRACTOR,
    PER_CLASS,
    REFERENCE,
    held_out,
    held_out_set,
    real_reference,
    run_cli,
    train_run,
)

OFF = {"options.matching_aware": False, "options.interpolation": False}
CONFIGS: dict[str, tuple[str, dict, str]] = {
    "gan_int_cls": ("gan-int-cls-fashion", {}, "GAN-INT-CLS: matching-aware D + interpolation"),
    "gan_cls": ("gan-cls-fashion", {}, "GAN-CLS: matching-aware D (preset gan-cls-fashion)"),
    "gan_int": ("gan-int-cls-fashion", {"options.matching_aware": False}, "GAN-INT"),
    "gan": ("gan-int-cls-fashion", OFF, "GAN: text to G and D only"),
    "text_noise": (
        "gan-int-cls-fashion",
        {"options.text_noise": 0.05},
        "GAN-INT-CLS, G's caption input + N(0, 0.05^2) noise",
    ),
    "gan_cls_text_noise": (
        "gan-cls-fashion",
        {"options.text_noise": 0.05},
        "GAN-CLS, G's caption input + N(0, 0.05^2) noise",
    ),
}


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
    captions, labels = held_out_set()
    x = G.sample(len(captions), seed=20_000 + seed, text=G.embed(captions))
    out["acc_held_out"] = accuracy(net, x, labels)
    out["acc_per_class"] = [accuracy(net, x[labels == c], labels[labels == c])
                            for c in range(10)]  # fmt: skip
    bright = [agreement(G, w, "dark", "light", "b", 30_000 + seed) for w in FASHION.class_words]
    size = [agreement(G, w, "small", "large", "s", 40_000 + seed) for w in FASHION.class_words]
    out.update(bright_mean=float(np.mean(bright)), bright_min=float(np.min(bright)),
               size_mean=float(np.mean(size)), size_min=float(np.min(size)),
               bright_per_class=bright, size_per_class=size, **real_reference(net))  # fmt: skip
    return out


def one_run(name: str, seed: int, n: int, work: Path, steps: int | None) -> dict:
    preset, overrides, _ = CONFIGS[name]
    out = work / f"{name}_seed{seed}"
    cpu, steps = train_run(preset, overrides, seed, out, steps)
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
        runs = [results[c][s] for s in range(seeds)]
        lines.append(
            f"| {c} | {CONFIGS[c][2]} | {runs[0]['steps']} | {cell(runs, 'acc_held_out')} "
            f"| {cell(runs, 'bright_mean')} ({min(r['bright_min'] for r in runs):.2f}) "
            f"| {cell(runs, 'size_mean')} ({min(r['size_min'] for r in runs):.2f}) "
            f"| {cell(runs, 'fid', '.2f')} "
            f"| {np.mean([r['cpu_seconds'] for r in runs]) / 60:.1f} |"
        )
    ref = results[configs[0]][0]
    lines.append(
        f"| real test images | the test images each held-out caption describes "
        f"| | {ref['real_acc_held_out']:.3f} (worst cell {ref['real_acc_min_cell']:.2f}) "
        "| | | | |"
    )
    lines += [
        "",
        "Held-out class accuracy per class (mean over seeds):",
        "",
        "| run | " + " | ".join(_CLASSES) + " |",
        "|---|" + "---|" * len(_CLASSES),
    ]
    for c in configs:
        per = np.mean([results[c][s]["acc_per_class"] for s in range(seeds)], 0)
        lines.append(f"| {c} | " + " | ".join(f"{v:.2f}" for v in per) + " |")
    return "\n".join(lines) + "\n"


_CLASSES = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
            "bag", "boot"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    return run_cli(argv, doc=__doc__, script=Path(__file__),
                   title="GAN-INT-CLS on Fashion-MNIST captions", configs=CONFIGS,
                   default_configs=",".join(CONFIGS), name="text_to_image_fashion",
                   picture_name="gan-int-cls-fashion.png", one_run=one_run, table=table,
                   picture=picture)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
