"""Sanity table of the feature metrics on Fashion-MNIST with the domain classifier.

Scores four sample sets against the Fashion-MNIST test split through the public
``gankit.metrics.evaluate`` (the code path of ``gankit eval``), each saved first as a uint8
``.npy`` file in the ``gankit sample`` layout:

* ``train``: N training images (what a perfect generator would produce; disjoint from test);
* ``blurred train``: the same images after a Gaussian blur (sigma = 1 px);
* ``collapsed``: N draws from 10 training images (total mode collapse);
* ``uniform noise``: independent uniform pixels.

A sound metric must rate the first far better than the other three. Needs the cached
classifier (``gankit extractor train fashion-mnist``).

    python benchmarks/metric_sanity.py            # N = 10000, prints a Markdown table
    python benchmarks/metric_sanity.py --n 2000 --grid docs/images/metric_sanity_sets.png
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gankit.data import from_unit_range, load_dataset
from gankit.metrics.classifier import read_info
from gankit.metrics.evaluate import evaluate

BLUR_SIGMA = 1.0  # pixels
COLLAPSED_DISTINCT = 10


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) images, radius 3 sigma, reflected borders."""
    radius = max(1, int(round(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(), groups=c)


def sample_sets(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    train = load_dataset("fashion-mnist", split="train").x
    rng = np.random.default_rng(seed)
    pick = torch.from_numpy(np.sort(rng.choice(len(train), n, replace=False)))
    real = train[pick]
    few = real[torch.from_numpy(rng.choice(n, COLLAPSED_DISTINCT, replace=False))]
    return {
        "train": from_unit_range(real).numpy(),
        f"blurred train (sigma {BLUR_SIGMA:g} px)": from_unit_range(
            gaussian_blur(real, BLUR_SIGMA)
        ).numpy(),
        # In random order, as a collapsed generator would emit them.
        f"collapsed ({COLLAPSED_DISTINCT} images repeated)": from_unit_range(
            few[torch.from_numpy(rng.integers(0, COLLAPSED_DISTINCT, n))]
        ).numpy(),
        "uniform noise": rng.integers(0, 256, size=real.shape, dtype=np.uint8),
    }


COLUMNS = [
    ("FID", lambda r: f"{r['fid']:.2f}"),
    ("KID (x1e3)", lambda r: f"{1e3 * r['kid']:.2f} ± {1e3 * r['kid_std']:.2f}"),
    ("precision", lambda r: f"{r['precision']:.3f}"),
    ("recall", lambda r: f"{r['recall']:.3f}"),
    ("density", lambda r: f"{r['density']:.3f}"),
    ("coverage", lambda r: f"{r['coverage']:.3f}"),
    ("IS", lambda r: f"{r['is']:.2f} ± {r['is_std']:.2f}"),
    ("classes covered", lambda r: f"{r['classes_covered']}/{r['num_classes']}"),
    ("class KL", lambda r: f"{r['class_kl']:.3f}"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="samples per set (and test images)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grid", help="also save the first 12 images of each set (one row each)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = []
    sets = sample_sets(args.n, args.seed)
    if args.grid:
        from gankit.viz import image_grid

        image_grid(np.concatenate([x[:12] for x in sets.values()]), nrow=12).save(args.grid)
    with tempfile.TemporaryDirectory() as tmp:
        for name, images in sets.items():
            path = Path(tmp) / "samples.npy"
            np.save(path, images)
            r = evaluate(path, "fashion-mnist:test", n=args.n)
            rows.append((name, r))
    info = read_info("fashion-mnist")
    print(
        f"Fashion-MNIST, extractor {rows[0][1]['extractor']} (test accuracy "
        f"{info.test_accuracy:.4f}, content hash {info.content_hash[:16]}), {args.n} samples "
        f"per set against {rows[0][1]['n_reference']} test images\n"
    )
    print("| samples | " + " | ".join(c for c, _ in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for name, r in rows:
        print(f"| {name} | " + " | ".join(f(r) for _, f in COLUMNS) + " |")
    print(
        f"\n({time.perf_counter() - t0:.0f} s, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads)"
    )


if __name__ == "__main__":
    main()
