"""The linear probe of learned representations on Fashion-MNIST (issue 14): DCGAN's
discriminator against BiGAN's and ALI's encoders, each beside raw pixels and its own
network with random weights.

    OMP_NUM_THREADS=1 python benchmarks/probe_fashion.py [--jobs 2] [--dcgan-epochs 1]
        [--models dcgan,bigan,ali] [--train-seed N] [--set KEY=VALUE ...] [--codes]

Trains three runs through gankit's loop (seed --train-seed, default 0): ``dcgan-fashion``
for --dcgan-epochs epochs (default 1, i.e. 1,875 steps, a fifth of its preset; 0 keeps the
preset's 5 epochs), ``bigan-fashion`` and ``ali-fashion`` as their presets stand. Then the
protocol of gankit.probe (Radford et al. 2015, Sec. 5.1): a linear L2-SVM on --per-class
labels per class drawn --draws times (seed --seed), C chosen on a fifth of them, scored on
the 10,000 test images. Features: dcgan's ``features`` export (D's conv layers max-pooled to
4x4), bigan's and ali's ``encoder_features`` export (E's conv blocks max-pooled to 4x4, then
the code), each also with random weights (seed --seed), and raw pixels once: every source
sees the same draws.

--set changes the presets of the models trained (a config key, as ``gankit train --set``;
repeatable; part of the training's cache key and run directory): ``--models ali --set
train.ema=0.999`` probes ALI's weight average. --codes probes the encoders' latent code
alone (their ``apply`` export: BiGAN's z = E(x), ALI's mean mu(x)), with and without trained
weights, instead of ``encoder_features``.

Printed: one markdown table with each representation's margin over raw pixels and over its
random-weight twin (mean over draws, and the per-draw differences' range: the draws are
shared, so the paired differences are the sharper comparison).
Finished trainings and probes are cached in --cache, keyed by what they ran and by a
fingerprint of gankit's source and the environment (torch, Python, machine), so any change of
the code trains and probes again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np
from bench_cache import code_fingerprint, override_error

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = code_fingerprint()
STEPS_PER_EPOCH = 1875  # Fashion-MNIST's 60,000 images in batches of 32 (all three presets)
# name -> (preset, the export probed, what it is)
MODELS = {
    "dcgan": ("dcgan-fashion", "features", "DCGAN discriminator (D's conv layers)"),
    "bigan": ("bigan-fashion", "encoder", "BiGAN encoder (E's conv blocks + z)"),
    "ali": ("ali-fashion", "encoder", "ALI encoder (E's conv blocks + mu(x))"),
}
PIXELS = "raw pixels"
CODES = "codes"  # --codes: the encoders' latent code alone (gankit probe --source codes)


def _train(args: tuple) -> tuple[str, dict]:
    """One training run in its own process; CPU seconds of that process (one thread)."""
    key, preset, out, steps, seed, sets = args
    import torch

    from gankit import api

    torch.set_num_threads(1)
    t0, w0 = time.process_time(), time.perf_counter()
    run = api.train(preset, out, steps=steps, seed=seed, overrides=sets, progress=False)
    cfg = run.config()
    return key, {
        "run": str(out),
        "steps": cfg.train.steps,
        "cpu_s": round(time.process_time() - t0, 1),
        "wall_s": round(time.perf_counter() - w0, 1),
    }


def _probe(args: tuple) -> tuple[str, dict]:
    """One feature source through gankit.probe's protocol, in its own process."""
    key, run, source, which, per_class, draws, seed = args
    import torch

    from gankit import probe

    torch.set_num_threads(1)
    t0 = time.process_time()
    if run is None:  # raw pixels, at Fashion-MNIST's own size
        fn, item, what = probe._pixels, [1, 28, 28], PIXELS
    else:  # source: the export gankit probe --source reads (features, encoder or codes)
        ext = probe.run_extractor(run, source, seed)
        fn = ext.trained if which == "trained" else ext.random
        item, what = ext.item_shape, ext.what
    train, test = probe.load_probe_data("fashion-mnist", item)
    res = probe.linear_probe(
        {which: fn},
        (train.x, train.y.numpy()),
        (test.x, test.y.numpy()),
        per_class=per_class,
        draws=draws,
        seed=seed,
    )[which]
    return key, {**res, "what": what, "cpu_s": round(time.process_time() - t0, 1)}


def _pm(r: dict) -> str:
    return f"{100 * r['mean']:.2f} ± {100 * r['ci95']:.2f}"


def _margin(a: dict, b: dict) -> str:
    """a - b in points: the mean, and the range of the per-draw (paired) differences."""
    d = 100 * (np.array(a["accuracies"]) - np.array(b["accuracies"]))
    wins = int((d > 0).sum())
    return f"{d.mean():+.2f} ({d.min():+.1f} … {d.max():+.1f}; {wins}/{len(d)} draws)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="dcgan,bigan,ali", help="comma list of " + ", ".join(MODELS))
    p.add_argument("--dcgan-epochs", type=float, default=1.0, help="0: the preset's 5 epochs")
    p.add_argument(
        "--steps", type=int, default=0, help="every model this many steps (a smoke test)"
    )
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--draws", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="of the label draws and random weights")
    p.add_argument("--train-seed", type=int, default=0, help="of the trainings")
    p.add_argument("--jobs", type=int, default=1, help="trainings / probes in parallel")
    p.add_argument("--codes", action="store_true", help="probe the encoders' code alone")
    p.add_argument(
        "--no-pixels",
        action="store_true",
        help="skip the raw-pixel probe (22 CPU min) where this code has not cached it",
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override the presets"
    )
    p.add_argument("--runs", default=str(ROOT / "runs" / "probe-fashion"))
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / "results" / "probe_fashion.json"))
    args = p.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    if any(m not in MODELS for m in models) or not models:
        print(f"unknown model; valid: {', '.join(MODELS)}", file=sys.stderr)
        return 2
    if args.per_class < 2 or args.draws < 2 or args.dcgan_epochs < 0:
        print("--per-class and --draws must be at least 2, --dcgan-epochs >= 0", file=sys.stderr)
        return 2
    if args.codes and "dcgan" in models:
        print("--codes probes encoders: give --models bigan,ali", file=sys.stderr)
        return 2
    # a bad --set fails here in one line, before any training
    if bad := override_error([MODELS[m][0] for m in models], args.set, "--train-seed N"):
        print(bad, file=sys.stderr)
        return 2
    # the presets' own runs keep the key and directory they had before --set existed
    sets = "/set=" + " ".join(args.set) if args.set else ""
    tag = "-set-" + hashlib.sha256(sets.encode()).hexdigest()[:8] if args.set else ""
    cache = Path(args.cache)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}

    def save(key: str, value: dict) -> None:
        results[key] = value
        # re-read before writing: another invocation (another --set) may have stored its runs
        stored = json.loads(cache.read_text()) if cache.exists() else {}
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({**stored, key: value}, indent=1, sort_keys=True))

    # 1. training
    # the random twin's weights come from --seed, not the training's: its probe is keyed by
    # the training without the seed, so one serves every --train-seed
    trains, untrained, todo = {}, {}, []
    for m in models:
        preset = MODELS[m][0]
        dcgan_steps = m == "dcgan" and args.dcgan_epochs
        steps = round(args.dcgan_epochs * STEPS_PER_EPOCH) if dcgan_steps else None
        steps = args.steps or steps
        seed, base = args.train_seed, f"train/{m}/{preset}/steps={steps or 'preset'}"
        key = f"{base}/seed={seed}{sets}/{FINGERPRINT}"
        untrained[m] = f"{base}{sets}/{FINGERPRINT}"
        run_name = f"{m}-{steps or 'preset'}{f'-seed{seed}' if seed else ''}{tag}-{FINGERPRINT}"
        out = Path(args.runs) / run_name
        trains[m] = key
        if key in results and (out / "config.json").exists():
            continue
        if out.exists():  # an unfinished run of this very code: train it again
            shutil.rmtree(out)
        results.pop(key, None)
        todo.append((key, preset, out, steps, seed, args.set))
    # 2. probes: each model trained and with random weights, as soon as its run is trained;
    # raw pixels once, queued after the trainings (the slowest probe, and the one figure
    # already known from docs/benchmarks.md)
    probe_args = f"per_class={args.per_class}/draws={args.draws}/seed={args.seed}"
    codes = f"/{CODES}" if args.codes else ""
    keys = {PIXELS: f"probe/{PIXELS}/{probe_args}/{FINGERPRINT}"}
    for m in models:
        keys[f"{m}/trained"] = f"probe/{m}/trained/{trains[m]}/{probe_args}{codes}"
        keys[f"{m}/random"] = f"probe/{m}/random/{untrained[m]}/{probe_args}{codes}"
    fixed = (args.per_class, args.draws, args.seed)
    source = {m: CODES if args.codes else MODELS[m][1] for m in models}

    def probe_job(name: str) -> tuple:
        if name == PIXELS:
            return (keys[name], None, None, "raw", *fixed)
        m, which = name.split("/")
        return (keys[name], results[trains[m]]["run"], source[m], which, *fixed)

    def report(kind: str, k: str, r: dict) -> None:
        save(k, r)
        what = f"{r['steps']} steps" if kind == "train" else f"{100 * r['mean']:.2f}%"
        print(f"{kind} {k}: {what}, {r['cpu_s'] / 60:.1f} CPU min", flush=True)

    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        pending = {pool.submit(_train, job): ("train", job[0]) for job in todo}
        # queued after the trainings (see above)
        pixels_due = keys[PIXELS] not in results and not args.no_pixels
        for m in models:
            if trains[m] in results:  # trained before: its probes can start now
                for which in ("trained", "random"):
                    if keys[f"{m}/{which}"] not in results:
                        name = f"{m}/{which}"
                        pending[pool.submit(_probe, probe_job(name))] = ("probe", name)
        while pending or pixels_due:
            if pixels_due and not any(kind == "train" for kind, _ in pending.values()):
                pending[pool.submit(_probe, probe_job(PIXELS))] = ("probe", PIXELS)
                pixels_due = False
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                kind, _name = pending.pop(fut)
                k, r = fut.result()
                report(kind, k, r)
                if kind == "train":
                    m = next(m for m in models if trains[m] == k)
                    for which in ("trained", "random"):
                        name = f"{m}/{which}"
                        if keys[name] not in results:  # a random twin may be cached
                            pending[pool.submit(_probe, probe_job(name))] = ("probe", name)

    # 3. the table
    px = results.get(keys[PIXELS])  # None with --no-pixels
    print(
        f"\nFashion-MNIST, linear L2-SVM, {args.per_class} labels per class x {args.draws} draws "
        f"(seed {args.seed}), 10,000 test images; accuracy in % (mean ± 1.96σ over draws); "
        "margins in points: mean (per-draw range; draws won)"
        + f"; trainings seeded {args.train_seed}"
        + (f"; presets changed by --set {' '.join(args.set)}" if args.set else "")
        + "\n\n"
        "| representation | run | features | dim | trained | random weights | "
        "trained − raw pixels | trained − random weights | train CPU min |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|"
    )
    what = {m: MODELS[m][2] for m in models}
    if args.codes:  # "BiGAN encoder (E's conv blocks + z)" -> "BiGAN encoder, the code alone"
        what = {m: w.split(" (")[0] + ", the code alone" for m, w in what.items()}
    for m in models:
        tr, rnd = results[keys[f"{m}/trained"]], results[keys[f"{m}/random"]]
        t = results[trains[m]]
        over_px = _margin(tr, px) if px else "-"
        print(
            f"| {what[m]} | `{MODELS[m][0]}`, {t['steps']} steps | {tr['what']} "
            f"| {tr['dim']} | {_pm(tr)} | {_pm(rnd)} | {over_px} | {_margin(tr, rnd)} "
            f"| {t['cpu_s'] / 60:.1f} |"
        )
    if px:
        print(f"| raw pixels | - | - | {px['dim']} | {_pm(px)} | - | - | - | - |")
    cpu = {n: round(results[keys[n]]["cpu_s"] / 60, 1) for n in keys if keys[n] in results}
    print(f"\n<!-- probe CPU minutes: {cpu}; fingerprint {FINGERPRINT} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
