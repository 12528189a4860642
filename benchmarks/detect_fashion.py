"""The discriminator as a fake detector on Fashion-MNIST (`gankit probe RUN --detect SOURCE`).

    OMP_NUM_THREADS=1 python benchmarks/detect_fashion.py [--epochs 1] [--n 2000] [--seeds 3]

Trains preset dcgan-fashion for --epochs (1 epoch = 1875 steps of batch 32) and, with the
same seed, a run of a quarter of those steps: its G is the "earlier" generator (the same
seed, data order, noise stream and constant rates, so it should be the long run's G at that
step; not checked bitwise, as the long run keeps only its last three checkpoints).
Then it scores, with gankit.detect and --n real (test split) and --n fake images each:

* D of the full run against its own G (the EMA sampler, and the raw G),
* D of the full run against the earlier G,
* D of the earlier run against its own G (the same question at the earlier step),

each by the ROC AUC and accuracy (logit > 0) of D's logit, beside a logistic regression on
D's features and on raw pixels (fitted on one half, scored on the other).

Lecture 004 ("Other potential applications") claims that "once the training is complete, the
Discriminator can be used to detect fake/photoshopped images"; Goodfellow et al. 2014
(Prop. 1, Theorem 1) say that at the game's optimum D = 1/2 everywhere, i.e. AUC 0.5.

Results are cached in --cache, keyed by the configuration and by a fingerprint of gankit's
source and the environment (torch, Python, machine), so a rerun trains again after any
change of the code. Runs are written under --work. Printed: a markdown table and the CPU
minutes (user + sys of this process: training and scoring; one thread).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

from bench_cache import code_fingerprint  # gankit's source + environment, as every benchmark

ROOT = Path(__file__).resolve().parents[1]
PRESET = "dcgan-fashion"
STEPS_PER_EPOCH = 1875  # 60,000 training images / batch 32


def cpu_seconds() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def train(out: Path, steps: int, seed: int) -> float:
    """Train the preset into ``out`` (unless a finished run is there); its CPU seconds."""
    from gankit import api
    from gankit.runs import RunDir

    if out.exists():
        try:
            if RunDir.open(out).load_checkpoint().step == steps:
                return 0.0
        except Exception:  # noqa: BLE001 - a half-written run: train it again
            pass
        import shutil

        shutil.rmtree(out)
    t0 = cpu_seconds()
    print(f"training {PRESET} for {steps} steps (seed {seed}) into {out}", flush=True)
    api.train(PRESET, out, steps=steps, seed=seed, progress=False)
    return cpu_seconds() - t0


ROWS = (  # name, which run's D, SOURCE, SOURCE's EMA weights
    ("D(full) vs G(full), EMA", "full", "self", True),
    ("D(full) vs G(full), raw", "full", "self", False),
    ("D(full) vs G(early), EMA", "full", "early", True),
    ("D(early) vs G(early), EMA", "early", "self", True),
)


def one_seed(steps: tuple[int, int], n: int, seed: int, work: Path) -> dict:
    """Train both runs with ``seed`` and score every row; the results and CPU seconds."""
    from gankit import detect

    runs = {"full": work / f"full_{steps[0]}_s{seed}", "early": work / f"early_{steps[1]}_s{seed}"}
    cpu = {"train_full": train(runs["full"], steps[0], seed)}
    cpu["train_early"] = train(runs["early"], steps[1], seed)
    rows = {}
    t0 = cpu_seconds()
    for name, judge, source, ema in ROWS:
        src = source if source == "self" else str(runs[source])
        r = detect.detect(runs[judge], src, n=n, seed=seed, ema=ema)
        rows[name] = {k: r[k] for k in ("discriminator", "linear_probe", "n", "split")}
        print(f"seed {seed} {name}: D AUC {r['discriminator']['auc']:.4f}", flush=True)
    cpu["detect"] = cpu_seconds() - t0
    return {"rows": rows, "cpu_seconds": cpu}


def mean_std(values: list[float]) -> str:
    import numpy as np

    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--n", type=int, default=2000, help="real and fake images, each")
    p.add_argument("--seeds", type=int, default=3, help="training and detection seeds 0..N-1")
    p.add_argument("--work", default="/tmp/gankit-detect-fashion", help="where runs go")
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / "results" / "detect_fashion.json"))
    p.add_argument("--plot", default=None, help="FILE.png: seed 0's D(full) logit histograms")
    args = p.parse_args(argv)
    full_steps = round(args.epochs * STEPS_PER_EPOCH)
    steps = (full_steps, max(1, full_steps // 4))
    fp = code_fingerprint()
    cache = Path(args.cache)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    per_seed = []
    for seed in range(args.seeds):
        key = f"{PRESET}/steps={steps[0]},{steps[1]}/n={args.n}/seed={seed}/{fp}"
        if key not in results:
            results[key] = one_seed(steps, args.n, seed, Path(args.work) / fp)
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(results, indent=1, sort_keys=True))
        per_seed.append(results[key])
    print(
        f"\n{PRESET}, seeds 0-{args.seeds - 1} (mean ± std): full = {steps[0]} steps "
        f"({args.epochs:g} epoch), early = {steps[1]} steps of the same seed; {args.n} real "
        f"(test split) and {args.n} fake images each\n\n"
        "| detector vs source | D logit AUC | D accuracy (logit > 0) | LR on D features: AUC "
        "| LR on D features: acc. | LR on raw pixels: AUC | LR on raw pixels: acc. |\n"
        "|---|---|---|---|---|---|---|"
    )
    for name, *_ in ROWS:
        rs = [r["rows"][name] for r in per_seed]
        d = [r["discriminator"] for r in rs]
        feats = [r["linear_probe"]["D features"] for r in rs]
        raw = [r["linear_probe"]["raw pixels"] for r in rs]
        groups = ((d, "auc"), (d, "accuracy"), (feats, "auc"), (feats, "accuracy"))
        groups += ((raw, "auc"), (raw, "accuracy"))
        cells = [mean_std([x[k] for x in group]) for group, k in groups]
        print(f"| {name} | " + " | ".join(cells) + " |")
        print(f"<!-- {name}: D AUC per seed {[round(x['auc'], 4) for x in d]} -->")
    total = {k: sum(r["cpu_seconds"][k] for r in per_seed) for k in per_seed[0]["cpu_seconds"]}
    print(
        "\nCPU minutes (user + sys, one thread, all seeds): "
        + ", ".join(f"{k} {v / 60:.1f}" for k, v in total.items())
        + f"; total {sum(total.values()) / 60:.1f}"
    )
    if args.plot:
        # the newest seed-0 runs under --work (those of this code where it trained them)
        newest = {}
        for which, k in (("full", steps[0]), ("early", steps[1])):
            found = sorted(
                Path(args.work).glob(f"*/{which}_{k}_s0"), key=lambda q: q.stat().st_mtime
            )
            newest[which] = (Path(args.work) / fp / f"{which}_{k}_s0") if not found else found[-1]
        plot(newest["full"], newest["early"], args.n, Path(args.plot))
    return 0


def plot(full: Path, early: Path, n: int, out: Path) -> None:
    """Histograms of D(full)'s logits on held-out real images, G(full)'s and G(early)'s
    samples (seed 0, the very images the table scores)."""
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gankit import detect
    from gankit.runs import RunDir, load_model

    D = load_model(full, detect.DISCRIMINATOR_EXPORT)
    shape = list(D.export.input["shape"])
    cfg = RunDir.open(full).config()
    real = detect._real_images(cfg.data.name, cfg.data.root, "test", shape, n, 0)
    sets = [(real, "real (test split)", "black")]
    sets.append((detect._fake_images("self", full, shape, n, 0, True), "G(full), EMA", "red"))
    sets.append((detect._fake_images(str(early), full, shape, n, 0, True), "G(early)", "blue"))
    fig = Figure(figsize=(6, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    with torch.no_grad():
        for x, label, colour in sets:
            ax.hist(D(x).numpy(), bins=60, histtype="step", color=colour, label=label)
    ax.axvline(0, color="gray", lw=0.8)
    ax.set(xlabel="D(full)'s logit", ylabel="images", title="dcgan-fashion, 1 epoch, seed 0")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
