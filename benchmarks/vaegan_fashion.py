"""VAE-GAN against a plain VAE on Fashion-MNIST (Larsen et al. 2016, "Autoencoding beyond
pixels using a learned similarity metric").

    OMP_NUM_THREADS=1 python benchmarks/vaegan_fashion.py [--configs vae,vaegan] [--seeds 1]

Trains presets vae-fashion and vaegan-fashion (the same encoder, decoder and z_dim; see
gankit/variants/vae.py, vaegan.py) through gankit's one loop, each for its preset's steps:
the presets give both about the same CPU time (equal CPU time, not equal steps: a VAE-GAN
step runs three phases and a discriminator). Then, on the Fashion-MNIST test split:

* sample FID: --n prior samples G(z), z ~ N(0, I), against --n test images;
* reconstruction FID: G(mu(x)) of --n test images (the ``reconstruct`` export) against the
  same test images;
* pixel MSE of those reconstructions, on images scaled to [0, 1];

both FIDs with the Fashion-MNIST domain classifier's features (extractor
``domain:fashion-mnist``, gankit.metrics.evaluate). The paper reports no FID (it predates
it): its results are CelebA pictures and attribute-similarity scores of conditional samples
(Sec. 4), so there is no paper figure to put beside these numbers. Goal here: VAE-GAN's
sample FID at most half the VAE's.

Finished runs are cached in --cache, keyed by config, seed and a fingerprint of gankit's
source and the environment (as benchmarks/ali_grid.py), so a rerun trains again after any
change of the code. Run directories go to --work; the side-by-side picture
(docs/images/vaegan_vs_vae.png: samples above, test images and reconstructions below) is
drawn from them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from bench_cache import code_fingerprint
from PIL import Image, ImageDraw

from gankit import api
from gankit.data import load_dataset
from gankit.data.images import from_unit_range
from gankit.metrics.classifier import ExtractorNotTrained, train_classifier
from gankit.metrics.evaluate import evaluate
from gankit.metrics.extractors import DomainExtractor
from gankit.runs import load_generator, load_model
from gankit.viz import image_grid, save_png

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = code_fingerprint()  # gankit's source + environment (bench_cache)
EXTRACTOR = "domain:fashion-mnist"
REFERENCE = "fashion-mnist:test"
# what every benchmark run turns off: live diagnostics and in-training metrics cost CPU time
QUIET = {"diagnose.enabled": False, "eval.metrics": "", "log.progress": False}
# name -> (preset, overrides, what it is)
CONFIGS: dict[str, tuple[str, dict, str]] = {
    "vae": ("vae-fashion", {}, "VAE: KL + pixel squared error (sigma 0.5)"),
    "vaegan": (
        "vaegan-fashion",
        {},
        "VAE-GAN: KL + D-feature error + GAN (gamma 0.01), batch 32, Adam 5e-4, EMA 0.995",
    ),
    "vaegan_decay": (
        "vaegan-fashion",
        {"train.lr_decay": 0.5},
        "vaegan-fashion with learning rates decayed to 0 over the last half",
    ),
    "vaegan_gamma0.1": ("vaegan-fashion", {"options.gamma": 0.1}, "vaegan-fashion, gamma 0.1"),
    # an EMA of G and E (a 200-step window) for both, as dcgan-fashion samples from an EMA
    "vae_ema": ("vae-fashion", {"train.ema": 0.995}, "vae-fashion, EMA 0.995"),
    # the settings of vaegan-fashion before its batch 32 / 5e-4 / EMA recipe
    "vaegan_b64": (
        "vaegan-fashion",
        {
            "train.batch_size": 64,
            "train.steps": 2500,
            "train.lr_g": 3e-4,
            "train.lr_d": 3e-4,
            "train.ema": 0.0,
        },
        "batch 64, Adam 3e-4, no EMA, 2500 steps (the earlier preset)",
    ),  # fmt: skip
}


def key(name: str, seed: int, n: int) -> str:
    """The cache key: config, its overrides, seed, FID sample size and the code fingerprint."""
    overrides = json.dumps(CONFIGS[name][1], sort_keys=True)
    return f"{name}/seed{seed}/{overrides}/n{n}/{FINGERPRINT}"


def ensure_extractor() -> None:
    """The cached Fashion-MNIST domain classifier; trained once if missing (not timed)."""
    try:
        DomainExtractor("fashion-mnist")
    except ExtractorNotTrained:
        print("training the fashion-mnist domain classifier (not timed) ...", file=sys.stderr)
        train_classifier("fashion-mnist")


def fid(images: torch.Tensor, n: int) -> float:
    out = evaluate(images, REFERENCE, metrics="fid", n=n, extractor=EXTRACTOR)
    return float(out["fid"])


def reconstruct(run: Path, x: torch.Tensor) -> torch.Tensor:
    """G(mu(x)) through the run's ``reconstruct`` export (eval mode, batches of 500)."""
    return load_model(run, export="reconstruct")(x)


def one_run(name: str, seed: int, n: int, work: Path) -> dict:
    preset, overrides, _ = CONFIGS[name]
    out = work / f"{name}_seed{seed}"
    shutil.rmtree(out, ignore_errors=True)  # a run of older code (its cache entry is stale)
    start = time.process_time()  # CPU seconds of this process (one thread)
    api.train(preset, out, seed=seed, overrides={**QUIET, **overrides})
    cpu = time.process_time() - start
    test = load_dataset("fashion-mnist", split="test").x[:n]
    samples = load_generator(out).sample(n, seed=10_000 + seed)
    recon = reconstruct(out, test)
    mse = float(((recon - test) / 2).pow(2).mean())  # [-1, 1] -> [0, 1]: halve the difference
    steps = json.loads((out / "config.json").read_text())["train"]["steps"]
    return {
        "sample_fid": fid(samples, n),
        "recon_fid": fid(recon, n),
        "recon_mse": mse,
        "cpu_seconds": cpu,
        "steps": steps,
        "run": str(out),
    }


def _one_run(args: tuple) -> dict:
    torch.set_num_threads(1)
    return one_run(*args)


def picture(runs: dict[str, Path], out: Path, seed: int = 0) -> Path | None:
    """Per model (left to right): 6 rows of 8 prior samples, 8 test images, their
    reconstructions; the models side by side with a white gap."""
    if not runs or not all((r / "config.json").exists() for r in runs.values()):
        return None
    test = load_dataset("fashion-mnist", split="test").x[:8]
    panels = []
    for run in runs.values():
        rows = torch.cat([load_generator(run).sample(48, seed=seed), test, reconstruct(run, test)])
        panels.append(np.asarray(image_grid(from_unit_range(rows).numpy(), nrow=8)))
    gap = np.full((panels[0].shape[0], 16), 255, dtype=np.uint8)
    joined = np.concatenate([p for pair in zip(panels, [gap] * len(panels)) for p in pair][:-1], 1)
    image = Image.new("L", (joined.shape[1], joined.shape[0] + 14), 255)
    image.paste(Image.fromarray(joined, mode="L"), (0, 14))
    draw = ImageDraw.Draw(image)
    for i, name in enumerate(runs):  # each panel's name above it
        draw.text((2 + i * (panels[0].shape[1] + gap.shape[1]), 1), name.upper(), fill=0)
    return save_png(image, out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="vae,vaegan", help="comma list of " + ", ".join(CONFIGS))
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (one thread each)")
    p.add_argument("--n", type=int, default=5000, help="samples / test images per FID")
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / "results" / "vaegan_fashion.json"))
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gankit-vaegan-fashion"))
    p.add_argument("--picture", default=str(ROOT / "docs" / "images" / "vaegan_vs_vae.png"))
    args = p.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    if args.seeds < 1 or args.n < 2:
        print("--seeds must be at least 1 and --n at least 2", file=sys.stderr)
        return 2
    if any(c not in CONFIGS for c in configs):
        print(f"unknown config; valid: {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    ensure_extractor()
    cache, work = Path(args.cache), Path(args.work)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [(c, s) for c in configs for s in range(args.seeds) if key(c, s, args.n) not in results]
    print(f"training {todo} ...", file=sys.stderr, flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        jobs = [(c, s, args.n, work) for c, s in todo]
        for (c, s), r in zip(todo, pool.map(_one_run, jobs), strict=True):
            k = key(c, s, args.n)
            results[k] = r
            fids = f"sample FID {r['sample_fid']:.2f}, recon FID {r['recon_fid']:.2f}"
            cost = f"MSE {r['recon_mse']:.4f}, {r['cpu_seconds'] / 60:.1f} CPU min"
            print(f"{k}: {fids}, {cost}", flush=True)
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(results, indent=1, sort_keys=True))
    print(
        f"\nFashion-MNIST test split, {args.n} samples / images per FID ({EXTRACTOR}), "
        f"seeds 0-{args.seeds - 1}\n\n"
        "| model | what | steps | sample FID | reconstruction FID | reconstruction MSE [0,1] "
        "| CPU min / run |\n|---|---|---|---|---|---|---|"
    )
    table = {}
    for c in configs:
        runs = [results[key(c, s, args.n)] for s in range(args.seeds)]
        table[c] = {k: float(np.mean([r[k] for r in runs])) for k in runs[0] if k != "run"}
        m = table[c]
        print(
            f"| {c} | {CONFIGS[c][2]} | {runs[0]['steps']} | {m['sample_fid']:.2f} "
            f"| {m['recon_fid']:.2f} | {m['recon_mse']:.4f} | {m['cpu_seconds'] / 60:.1f} |"
        )
    if {"vae", "vaegan"} <= table.keys():
        ratio = table["vaegan"]["sample_fid"] / table["vae"]["sample_fid"]
        print(f"\nsample FID ratio VAE-GAN / VAE: {ratio:.3f} (goal <= 0.5: "
              f"{'met' if ratio <= 0.5 else 'missed'})")  # fmt: skip
        runs = {"vae": work / "vae_seed0", "vae-gan": work / "vaegan_seed0"}
        made = picture(runs, Path(args.picture))
        print(f"picture: {made}" if made else "picture: run directories not in --work; skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
