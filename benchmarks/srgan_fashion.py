"""SRResNet and SRGAN x4 against bicubic (Ledig et al. 2017, "Photo-Realistic Single Image
Super-Resolution Using a Generative Adversarial Network"), on fashion-x4 and on a photograph.

    OMP_NUM_THREADS=1 python benchmarks/srgan_fashion.py [--configs srresnet,srgan,srgan_folder]
        [--seeds 1] [--n 10000]

--configs run in the order given (part 1: srresnet, srgan, srgan_pixel, srgan_classifier,
srgan_ra; part 2: srgan_folder, srresnet_folder); the table is rewritten after each run.

Part 1, fashion-x4 (7x7 -> 28x28; the input is the Fashion-MNIST test image reduced by Pillow's
bicubic filter): each config trains its preset through gankit's one loop (seeded), then on the
--n first test pairs: PSNR and SSIM of the outputs (as uint8 images, the 4-pixel border left
out, as SR tables do: gankit.metrics psnr / ssim with crop=4) against the originals, and the
domain FID of the outputs against the original test images (the Fashion-MNIST domain
classifier's features, extractor domain:fashion-mnist). Bicubic is Pillow's BICUBIC upscale
of the 7x7 input (gankit.variants.srgan.bicubic_upscale). Goals of the issue: SRResNet >=
bicubic + 1.5 dB PSNR; SRGAN's FID below SRResNet's (the perception-distortion trade-off of
Ledig et al.: lower PSNR, more realistic).

Part 2, srgan-folder: trained on crops of the two photographs scikit-learn ships
(sklearn.datasets.load_sample_images, written as PNGs to a temporary folder), then applied
with `gankit apply` (gankit.applying.apply) to photographs it never saw, bundled with
scikit-image (astronaut, chelsea): each cut to a multiple of 4, reduced x4 with the same
Pillow bicubic (gankit.data.paired.reduce_bicubic), upscaled back; PSNR on the BT.601 luma
(y_channel, crop 4) against the original, beside Pillow's bicubic upscale.

Runs are cached in --cache keyed by config, seed, --n and bench_cache.code_fingerprint (gankit's
source, this script, the environment), so a rerun trains again after any change of the code.
CPU minutes are this process's time.process_time() for training alone (one thread). The table
is printed and written to benchmarks/results/srgan_fashion.md; --picture saves rows bicubic /
SRResNet / SRGAN / original of 8 test images.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_cache import code_fingerprint

from gankit import api
from gankit.data import load_dataset
from gankit.data.images import from_unit_range, to_unit_range
from gankit.errors import DataError
from gankit.metrics.classifier import ExtractorNotTrained, train_classifier
from gankit.metrics.evaluate import evaluate
from gankit.metrics.extractors import DomainExtractor
from gankit.metrics.psnr import psnr
from gankit.metrics.ssim import ssim
from gankit.runs import load_model
from gankit.variants.srgan import bicubic_upscale

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = code_fingerprint(Path(__file__))
EXTRACTOR = "domain:fashion-mnist"
REFERENCE = "fashion-mnist:test"
CROP = 4  # border pixels left out of PSNR / SSIM (the scale, as SR tables do)
QUIET = {"diagnose.enabled": False, "eval.metrics": "", "log.progress": False}
# name -> (preset, overrides, what it is)
CONFIGS: dict[str, tuple[str, dict, str]] = {
    "srresnet": ("srresnet-fashion", {}, "SRResNet: pixel MSE"),
    "srgan": ("srgan-fashion", {}, "SRGAN: D-feature content + 1e-3 adversarial"),
    "srgan_pixel": (
        "srgan-fashion",
        {"options.content": "pixel"},
        "SRGAN-MSE: pixel content + 1e-3 adversarial",
    ),
    "srgan_classifier": (
        "srgan-fashion",
        {"options.content": "classifier"},
        "SRGAN, domain-classifier content (FID's own features: not an independent score)",
    ),
    "srgan_ra": (
        "srgan-fashion",
        {"options.relativistic": True},
        "SRGAN with ESRGAN's relativistic average D",
    ),
}
FOLDER_CONFIGS: dict[str, tuple[str, dict, str]] = {
    "srgan_folder": ("srgan-folder", {}, "srgan-folder (SRGAN)"),
    "srresnet_folder": (
        "srgan-folder",
        {"options.adversarial": False},
        "srgan-folder with options.adversarial=false (SRResNet)",
    ),
}
PHOTOS = ("astronaut", "chelsea")  # skimage.data photographs, never seen in training


def key(name: str, seed: int, n: int) -> str:
    overrides = json.dumps({**CONFIGS, **FOLDER_CONFIGS}[name][1], sort_keys=True)
    return f"{name}/seed{seed}/{overrides}/n{n}/{FINGERPRINT}"


def ensure_extractor() -> None:
    """The cached Fashion-MNIST domain classifier; trained once if missing (not timed)."""
    try:
        DomainExtractor("fashion-mnist")
    except ExtractorNotTrained:
        print("training the fashion-mnist domain classifier (not timed) ...", file=sys.stderr)
        train_classifier("fashion-mnist")


def train(preset: str, overrides: dict, seed: int, out: Path) -> float:
    """Train a preset into ``out``; returns the CPU minutes of training."""
    shutil.rmtree(out, ignore_errors=True)  # a run of older code (its cache entry is stale)
    start = time.process_time()
    api.train(preset, out, seed=seed, overrides={**QUIET, **overrides})
    return (time.process_time() - start) / 60


def scores(outputs: torch.Tensor, targets: torch.Tensor, n: int) -> dict:
    """PSNR / SSIM of uint8 outputs (crop 4) and their domain FID against the test images."""
    out8, hr8 = from_unit_range(outputs).numpy(), from_unit_range(targets).numpy()
    fid = evaluate(to_unit_range(out8), REFERENCE, metrics="fid", n=n, extractor=EXTRACTOR)
    return {
        "psnr": psnr(out8, hr8, crop=CROP),
        "ssim": ssim(out8, hr8, crop=CROP),
        "fid": float(fid["fid"]),
    }


def fashion_run(name: str, seed: int, n: int, work: Path) -> dict:
    preset, overrides, _ = CONFIGS[name]
    out = work / f"{name}_seed{seed}"
    cpu = train(preset, overrides, seed, out)
    test = load_dataset("fashion-x4", split="test")
    sr = load_model(out)(test.x[:n])
    steps = json.loads((out / "config.json").read_text())["train"]["steps"]
    return {**scores(sr, test.fields["b"][:n], n), "cpu_minutes": cpu, "steps": steps,
            "run": str(out)}  # fmt: skip


def photo_folder(work: Path) -> Path:
    """The two scikit-learn photographs as PNGs: the training folder of part 2."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder = work / "sklearn_photos"
    folder.mkdir(parents=True, exist_ok=True)
    bunch = load_sample_images()
    for name, pixels in zip(bunch.filenames, bunch.images, strict=True):
        Image.fromarray(pixels).save(folder / (Path(name).stem + ".png"))
    return folder


def photo_pair(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) uint8 (1, 3, H, W) of a scikit-image photograph: cut to a multiple of 4,
    reduced x4 with the training data's Pillow bicubic."""
    import skimage.data

    from gankit.data.paired import reduce_bicubic

    hr = getattr(skimage.data, name)()[..., :3]
    h, w = hr.shape[0] // 4 * 4, hr.shape[1] // 4 * 4
    hr = np.ascontiguousarray(hr[:h, :w])
    lr = reduce_bicubic(hr[None], 4)[0]
    return hr.transpose(2, 0, 1)[None], lr.transpose(2, 0, 1)[None]


def apply_photo(run: Path, lr: np.ndarray, work: Path) -> tuple[np.ndarray, str]:
    """The run's output for one LR photograph through `gankit apply` on a PNG; where apply
    refuses the size, through load_model (the same network), and the reason why."""
    from PIL import Image

    src, dst = work / "lr.png", work / "sr.png"
    Image.fromarray(lr[0].transpose(1, 2, 0)).save(src)
    try:
        from gankit.applying import apply

        apply(run, src, dst)
        return np.asarray(Image.open(dst).convert("RGB")).transpose(2, 0, 1)[None], "gankit apply"
    except DataError as exc:
        sr = from_unit_range(load_model(run)(to_unit_range(lr))).numpy()
        return sr, f"load_model (gankit apply refused: {exc})"


def folder_run(name: str, seed: int, work: Path) -> dict:
    preset, overrides, _ = FOLDER_CONFIGS[name]
    out = work / f"{name}_seed{seed}"
    cpu = train(preset, {**overrides, "data.root": str(photo_folder(work))}, seed, out)
    result: dict = {"cpu_minutes": cpu, "run": str(out)}
    for photo in PHOTOS:
        hr, lr = photo_pair(photo)
        sr, how = apply_photo(out, lr, work)
        bic = from_unit_range(bicubic_upscale(to_unit_range(lr), 4)).numpy()
        result[photo] = {
            "size": list(hr.shape[2:]),
            "psnr_y": psnr(sr, hr, crop=CROP, y_channel=True),
            "psnr_y_bicubic": psnr(bic, hr, crop=CROP, y_channel=True),
            "how": how,
        }
    return result


def picture(runs: dict[str, Path], out: Path, n: int = 8) -> Path | None:
    """Rows: bicubic, each run's output, the original, for the first ``n`` test images."""
    from gankit.viz import image_grid, save_png

    if not runs or not all((r / "config.json").exists() for r in runs.values()):
        return None
    test = load_dataset("fashion-x4", split="test")
    x, hr = test.x[:n], test.fields["b"][:n]
    rows = [bicubic_upscale(x, 4), *(load_model(r)(x).clamp(-1, 1) for r in runs.values()), hr]
    return save_png(image_grid(from_unit_range(torch.cat(rows)).numpy(), nrow=n), out)


def photo_picture(run: Path, out: Path, box: tuple[int, int, int] = (40, 170, 160)) -> Path:
    """Bicubic, the run's output and the original side by side: a ``box`` (top, left, side)
    of the astronaut photograph, reduced x4 and upscaled back."""
    from PIL import Image

    from gankit.viz import save_png

    hr, lr = photo_pair("astronaut")
    sr = from_unit_range(load_model(run)(to_unit_range(lr))).numpy()
    bic = from_unit_range(bicubic_upscale(to_unit_range(lr), 4)).numpy()
    top, left, side = box
    panels = [
        a[0, :, top : top + side, left : left + side].transpose(1, 2, 0) for a in (bic, sr, hr)
    ]
    gap = np.full((side, 4, 3), 255, dtype=np.uint8)
    row = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)
    return save_png(Image.fromarray(np.ascontiguousarray(row)), out)


def table(results: dict, names: list[str], args) -> str:
    """The markdown tables of what ``results`` holds for ``names`` so far."""
    seeds = range(args.seeds)
    done = [c for c in names if all(key(c, s, args.n) in results for s in seeds)]
    lines = [
        f"fashion-x4 test split, first {args.n} pairs; PSNR / SSIM on uint8 outputs with a "
        f"{CROP}-pixel border crop; domain FID ({EXTRACTOR}) against the original test images; "
        f"seeds 0-{args.seeds - 1} (mean); CPU minutes of training on one thread.",
        "",
        "| model | what | steps | PSNR (dB) | SSIM | domain FID | CPU min / run |",
        "|---|---|---|---|---|---|---|",
    ]
    base = results[f"bicubic/n{args.n}/{FINGERPRINT}"]
    lines.append(
        f"| bicubic | Pillow BICUBIC upscale of the 7x7 input | - | {base['psnr']:.2f} "
        f"| {base['ssim']:.4f} | {base['fid']:.2f} | - |"
    )
    means = {}
    for c in (c for c in done if c in CONFIGS):
        runs = [results[key(c, s, args.n)] for s in seeds]
        m = {k: float(np.mean([r[k] for r in runs])) for k in ("psnr", "ssim", "fid")}
        m["cpu_minutes"] = float(np.mean([r["cpu_minutes"] for r in runs]))
        means[c] = m
        lines.append(
            f"| {c} | {CONFIGS[c][2]} | {runs[0]['steps']} | {m['psnr']:.2f} | {m['ssim']:.4f} "
            f"| {m['fid']:.2f} | {m['cpu_minutes']:.1f} |"
        )
    lines.append("")
    if "srresnet" in means:
        gain = means["srresnet"]["psnr"] - base["psnr"]
        verdict = "met" if gain >= 1.5 else "missed"
        lines.append(f"SRResNet - bicubic: {gain:+.2f} dB PSNR (goal >= +1.5 dB: {verdict})")
    if {"srresnet", "srgan"} <= means.keys():
        a, b = means["srgan"]["fid"], means["srresnet"]["fid"]
        verdict = "met" if a < b else "missed"
        lines.append(f"SRGAN FID {a:.2f} vs SRResNet {b:.2f} (goal: SRGAN below: {verdict})")
    folder = [c for c in done if c in FOLDER_CONFIGS]
    if folder:
        lines += [
            "",
            "srgan-folder trained on crops of scikit-learn's two photographs (china, flower), "
            "applied to scikit-image photographs it never saw (x4 reduced by Pillow bicubic, "
            f"upscaled back); PSNR on the BT.601 luma, {CROP}-pixel border crop.",
            "",
            "| model | photograph | size | PSNR Y bicubic (dB) | PSNR Y model (dB) | gain | "
            "CPU min / run | how |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in folder:
            for s in seeds:
                r = results[key(c, s, args.n)]
                for photo in PHOTOS:
                    p = r[photo]
                    lines.append(
                        f"| {c} (seed {s}) | {photo} | {p['size'][1]}x{p['size'][0]} "
                        f"| {p['psnr_y_bicubic']:.2f} | {p['psnr_y']:.2f} "
                        f"| {p['psnr_y'] - p['psnr_y_bicubic']:+.2f} | {r['cpu_minutes']:.1f} "
                        f"| {p['how'].split(' (')[0]} |"
                    )
    missing = [c for c in names if c not in done]
    if missing:
        lines += ["", f"not run (yet): {', '.join(missing)}"]
    lines += ["", f"code fingerprint {FINGERPRINT}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [*CONFIGS, *FOLDER_CONFIGS]
    p.add_argument(
        "--configs",
        default="srresnet,srgan,srgan_folder",
        help="comma list, run in this order, of " + ", ".join(names),
    )
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--n", type=int, default=10000, help="test pairs scored (FID: as many)")
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / "results" / "srgan_fashion.json"))
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gankit-srgan-fashion"))
    p.add_argument("--picture", default=str(ROOT / "docs" / "images" / "srgan-fashion.png"))
    p.add_argument("--photo-picture", default=str(ROOT / "docs" / "images" / "srgan-folder.png"))
    p.add_argument("--table", default=str(ROOT / "benchmarks" / "results" / "srgan_fashion.md"))
    args = p.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    if args.seeds < 1 or args.n < 2:
        print("--seeds must be at least 1 and --n at least 2", file=sys.stderr)
        return 2
    if any(c not in names for c in configs):
        print(f"unknown config; valid: {', '.join(names)}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    ensure_extractor()
    cache, work = Path(args.cache), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results: dict = json.loads(cache.read_text()) if cache.exists() else {}

    def save(k: str, r: dict) -> None:
        """Cache one result and rewrite the table of everything done so far."""
        results[k] = r
        print(f"{k}: {json.dumps(r)}", flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(results, indent=1, sort_keys=True))
        text = table(results, configs, args)
        Path(args.table).parent.mkdir(parents=True, exist_ok=True)
        Path(args.table).write_text(
            f"# SRResNet / SRGAN x4 (benchmarks/srgan_fashion.py)\n\n{text}\n"
        )

    if (k := f"bicubic/n{args.n}/{FINGERPRINT}") not in results:
        test = load_dataset("fashion-x4", split="test")
        save(k, scores(bicubic_upscale(test.x[: args.n], 4), test.fields["b"][: args.n], args.n))
    made = None
    for c in configs:
        for s in range(args.seeds):
            if (k := key(c, s, args.n)) not in results:
                save(k, fashion_run(c, s, args.n, work) if c in CONFIGS else folder_run(c, s, work))
        shown = {m: work / f"{m}_seed0" for m in ("srresnet", "srgan")}
        if made is None and all(key(m, 0, args.n) in results for m in shown):
            made = picture(shown, Path(args.picture))
        if c == "srgan_folder":  # bicubic / SRGAN / original of a crop of the astronaut
            shot = photo_picture(work / "srgan_folder_seed0", Path(args.photo_picture))
            print(f"photo picture: {shot}")
    print("\n" + table(results, configs, args))
    print(f"picture: {made}" if made else "picture: srresnet and srgan runs not in --work; skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
