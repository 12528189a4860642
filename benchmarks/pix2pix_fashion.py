"""Pix2Pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial
Networks"): the loss ablation of Table 1 on fashion-edges, and de-raining.

    OMP_NUM_THREADS=1 python benchmarks/pix2pix_fashion.py [--configs ...] [--steps N]

(1) Ablation. Preset pix2pix-edges (Canny edges -> Fashion-MNIST image) trained once per
objective of Table 1 (``options.objective``: l1, cgan, l1+gan, l1+cgan), everything else
equal: the same networks, steps, batch size and seed. On the first --n inputs of the
fashion-edges test split, each trained G's outputs G(x) (the ``apply`` export, eval mode) are
scored by

* classifier accuracy: the Fashion-MNIST domain classifier's prediction on G(x) against the
  true class of the image the edges came from (Isola et al.'s "FCN-score" idea, Sec. 4.2,
  with gankit's domain classifier in place of the FCN); the same on the real test images is
  the ceiling;
* domain FID of the outputs against the real test images (extractor domain:fashion-mnist);
* mean L1 |b - G(x)| of the outputs against their targets, on [-1, 1].

Paper's pattern (Table 1, Cityscapes labels -> photo): L1 + cGAN best on the FCN-score, L1
alone blurry; cGAN alone sharp but less faithful to the input.

(2) De-raining. Preset pix2pix-derain (and the same with objective l1): PSNR and SSIM of G's
outputs against the clean crops of the derain test split (100 crops from a region of the
photos no training crop touches), on the BT.601 luma channel, beside the same scores of the
rainy inputs themselves.

Finished runs are cached in --cache under the config, its overrides, seed, --n, --steps and
bench_cache.code_fingerprint (gankit's source, this script and the environment), so a rerun
trains again after any change of the code. CPU minutes are this process's CPU time for the
training (time.process_time, one thread). The table is printed and written to
benchmarks/results/pix2pix_fashion.md; the ablation picture (rows: edges, L1, cGAN, L1+GAN,
L1+cGAN, target) to docs/images/pix2pix-ablation.png, each preset's last preview to
docs/images/pix2pix-edges.png and pix2pix-derain.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from bench_cache import code_fingerprint
from PIL import Image

from gankit import api
from gankit.data import load_dataset
from gankit.data.images import from_unit_range
from gankit.metrics.classifier import (
    ExtractorNotTrained,
    accuracy,
    load_classifier,
    train_classifier,
)
from gankit.metrics.evaluate import evaluate
from gankit.metrics.psnr import psnr
from gankit.metrics.ssim import ssim
from gankit.runs import load_model
from gankit.viz import image_grid, save_png

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = code_fingerprint(Path(__file__))
EXTRACTOR = "domain:fashion-mnist"
REFERENCE = "fashion-mnist:test"
QUIET = {"diagnose.enabled": False, "eval.metrics": "", "log.progress": False}
# name -> (preset, overrides, what it is); "edges_*" are the ablation rows, "derain_*" task (2)
CONFIGS: dict[str, tuple[str, dict, str]] = {
    "edges_l1": ("pix2pix-edges", {"options.objective": "l1"}, "L1"),
    "edges_cgan": ("pix2pix-edges", {"options.objective": "cgan"}, "cGAN"),
    "edges_l1+gan": ("pix2pix-edges", {"options.objective": "l1+gan"}, "L1 + GAN"),
    "edges_l1+cgan": ("pix2pix-edges", {"options.objective": "l1+cgan"}, "L1 + cGAN"),
    "derain_l1": ("pix2pix-derain", {"options.objective": "l1"}, "L1"),
    "derain_l1+cgan": ("pix2pix-derain", {"options.objective": "l1+cgan"}, "L1 + cGAN"),
}
ABLATION = [c for c in CONFIGS if c.startswith("edges_")]


def key(name: str, seed: int, n: int, steps: int | None) -> str:
    overrides = json.dumps(CONFIGS[name][1], sort_keys=True)
    return f"{name}/seed{seed}/{overrides}/n{n}/steps{steps}/{FINGERPRINT}"


def ensure_classifier() -> None:
    """The cached Fashion-MNIST domain classifier; trained once if missing (not timed)."""
    try:
        load_classifier("fashion-mnist")
    except ExtractorNotTrained:
        print("training the fashion-mnist domain classifier (not timed) ...", file=sys.stderr)
        train_classifier("fashion-mnist")


def train(name: str, seed: int, steps: int | None, work: Path) -> tuple[Path, float, int]:
    preset, overrides, _ = CONFIGS[name]
    out = work / f"{name}_seed{seed}"
    shutil.rmtree(out, ignore_errors=True)  # a run of older code (its cache entry is stale)
    start = time.process_time()
    api.train(preset, out, steps=steps, seed=seed, overrides={**QUIET, **overrides})
    cpu = time.process_time() - start
    done = json.loads((out / "config.json").read_text())["train"]["steps"]
    return out, cpu, done


def score_edges(run: Path, n: int) -> dict:
    test = load_dataset("fashion-edges", split="test")
    x, b, y = test.x[:n], test.fields["b"][:n], test.y[:n]
    out = load_model(run)(x)
    net, _ = load_classifier("fashion-mnist")
    fid = evaluate(out, REFERENCE, metrics="fid", n=n, extractor=EXTRACTOR)["fid"]
    return {
        "accuracy": accuracy(net, out, y),
        "fid": float(fid),
        "l1": float((out - b).abs().mean()),
    }


def score_derain(run: Path | None) -> dict:
    """PSNR / SSIM (luma) against the clean test crops: of G(x), or of x itself (run None)."""
    test = load_dataset("derain", split="test", image_size=derain_size())
    x, b = test.x, test.fields["b"]
    out = x if run is None else load_model(run)(x)
    return {
        "psnr_y": psnr(out, b, y_channel=True),
        "ssim_y": ssim(out, b, y_channel=True),
        "psnr_rgb": psnr(out, b),
    }


def derain_size() -> int:
    from gankit.presets import PRESETS

    return PRESETS["pix2pix-derain"].overrides["data.image_size"]


def ablation_picture(runs: dict[str, Path], out: Path, k: int = 10) -> Path | None:
    """Rows: k test edge maps, each ablation's outputs, the targets (Isola et al. Fig. 4)."""
    if not all((r / "config.json").exists() for r in runs.values()):
        return None
    test = load_dataset("fashion-edges", split="test")
    x, b = test.x[:k], test.fields["b"][:k]
    rows = [x, *(load_model(r)(x) for r in runs.values()), b]
    grid = image_grid(from_unit_range(torch.cat(rows)).numpy(), nrow=k)
    return save_png(grid, out)


def last_preview(run: Path, out: Path) -> Path | None:
    frames = sorted((run / "samples").glob("step_*.png"))
    if not frames:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.open(frames[-1]).save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--configs", default=",".join(CONFIGS), help="comma list of " + ", ".join(CONFIGS)
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="steps per run (default: the preset's)")
    p.add_argument("--n", type=int, default=5000, help="test inputs scored for the ablation")
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / "results" / "pix2pix_fashion.json"))
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gankit-pix2pix"))
    p.add_argument("--table", default=str(ROOT / "benchmarks" / "results" / "pix2pix_fashion.md"))
    p.add_argument("--images", default=str(ROOT / "docs" / "images"))
    args = p.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    if any(c not in CONFIGS for c in configs):
        print(f"unknown config; valid: {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    if args.n < 2 or (args.steps is not None and args.steps < 1):
        print("--n must be at least 2 and --steps at least 1", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    ensure_classifier()
    cache, work = Path(args.cache), Path(args.work)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}
    for c in configs:
        k = key(c, args.seed, args.n, args.steps)
        if k in results:
            continue
        print(f"training {c} ...", file=sys.stderr, flush=True)
        run, cpu, steps = train(c, args.seed, args.steps, work)
        scores = score_edges(run, args.n) if c.startswith("edges_") else score_derain(run)
        results[k] = {**scores, "cpu_seconds": cpu, "steps": steps, "run": str(run)}
        print(f"{k}: {json.dumps(results[k])}", flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(results, indent=1, sort_keys=True))
    got = {c: results[key(c, args.seed, args.n, args.steps)] for c in configs}
    lines = [f"## Pix2Pix (seed {args.seed}; one CPU thread; fingerprint {FINGERPRINT})", ""]
    edges = [c for c in configs if c.startswith("edges_")]
    if edges:
        test = load_dataset("fashion-edges", split="test")
        ceiling = accuracy(load_classifier("fashion-mnist")[0], test.fields["b"][: args.n],
                           test.y[: args.n])  # fmt: skip
        lines += [
            f"Ablation of Isola et al. Table 1 on fashion-edges (preset pix2pix-edges), first "
            f"{args.n} test inputs; accuracy of the Fashion-MNIST domain classifier on G(x) "
            f"against the true class; domain FID ({EXTRACTOR}) of G(x) against the real test "
            "images; L1 of G(x) against its target on [-1, 1].",
            "",
            "| objective | steps | classifier accuracy | domain FID | L1 | CPU min |",
            "|---|---|---|---|---|---|",
        ]
        for c in edges:
            r = got[c]
            lines.append(
                f"| {CONFIGS[c][2]} | {r['steps']} | {r['accuracy']:.3f} | {r['fid']:.2f} "
                f"| {r['l1']:.3f} | {r['cpu_seconds'] / 60:.1f} |"
            )
        lines += [f"| real test images (ceiling) | - | {ceiling:.3f} | - | - | - |", ""]
    derain = [c for c in configs if c.startswith("derain_")]
    if derain:
        rainy = score_derain(None)
        lines += [
            f"De-raining (preset pix2pix-derain, {derain_size()}x{derain_size()} crops): "
            "PSNR / SSIM on the BT.601 luma (Y) of the output against the clean crop, 100 test "
            "crops (PSNR on RGB beside).",
            "",
            "| model | steps | PSNR Y (dB) | SSIM Y | PSNR RGB (dB) | CPU min |",
            "|---|---|---|---|---|---|",
            f"| rainy input | - | {rainy['psnr_y']:.2f} | {rainy['ssim_y']:.4f} "
            f"| {rainy['psnr_rgb']:.2f} | - |",
        ]
        for c in derain:
            r = got[c]
            lines.append(
                f"| pix2pix {CONFIGS[c][2]} | {r['steps']} | {r['psnr_y']:.2f} "
                f"| {r['ssim_y']:.4f} | {r['psnr_rgb']:.2f} | {r['cpu_seconds'] / 60:.1f} |"
            )
        lines.append("")
    steps_flag = f" --steps {args.steps}" if args.steps else ""
    lines.append(
        f"Command: `OMP_NUM_THREADS=1 python benchmarks/pix2pix_fashion.py --configs "
        f"{','.join(configs)} --seed {args.seed} --n {args.n}{steps_flag}`"
    )
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    Path(args.table).write_text(text)
    images = Path(args.images)
    if set(ABLATION) <= set(configs):
        runs = {c: Path(got[c]["run"]) for c in ABLATION}
        made = ablation_picture(runs, images / "pix2pix-ablation.png")
        print(f"picture: {made}" if made else "ablation picture: runs not in --work; skipped")
    for c, name in (("edges_l1+cgan", "pix2pix-edges"), ("derain_l1+cgan", "pix2pix-derain")):
        if c in got and Path(got[c]["run"]).exists():
            print(f"picture: {last_preview(Path(got[c]['run']), images / f'{name}.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
