"""Pictures of a run: sample grids, animated GIFs, loss curves and 2-D toy frames.

Pillow draws grids and GIFs (no torchvision); matplotlib (Agg, no display) draws plots.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def _atomic(out: Path, render) -> None:
    """``render(buffer)`` writes the file's bytes; they replace ``out`` in one rename, so a
    crash or a full disk never leaves a truncated picture in a run directory."""
    from gankit.runs import atomic_write_bytes  # lazy: viz stays light to import

    buf = io.BytesIO()
    render(buf)
    atomic_write_bytes(Path(out), buf.getvalue())


def save_png(image: Image.Image, out: Path) -> Path:
    """Save a PIL image as PNG atomically."""
    _atomic(out, lambda b: image.save(b, format="PNG"))
    return Path(out)


os.environ.setdefault("MPLBACKEND", "Agg")


def image_grid(
    images: np.ndarray, nrow: int | None = None, pad: int = 2, min_cell: int = 28
) -> Image.Image:
    """Tile uint8 images (N, C, H, W) into one picture; tiny images are upscaled (nearest)."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    ncol = int(math.ceil(n / nrow))
    scale = max(1, int(math.ceil(min_cell / max(h, w))))
    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
        h, w = h * scale, w * scale
    grid = np.full((c, ncol * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, y : y + h, x : x + w] = images[i]
    mode = "L" if c == 1 else "RGB"
    arr = grid[0] if c == 1 else grid.transpose(1, 2, 0)
    return Image.fromarray(arr, mode=mode)


def save_gif(frames: Sequence[Path], out: Path, duration_ms: int = 300) -> Path | None:
    """Animate PNG frames into a looping GIF; the last frame is held longer."""
    if not frames:
        return None
    images = [Image.open(p).convert("RGB") for p in frames]
    durations = [duration_ms] * (len(images) - 1) + [duration_ms * 5]
    _atomic(
        out,
        lambda b: images[0].save(
            b, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0
        ),
    )
    return out


def loss_plot(records: list[dict], out: Path) -> Path | None:
    """Loss and D-output curves from stats.jsonl records."""
    import matplotlib.pyplot as plt

    records = [r for r in records if "step" in r]
    if not records:
        return None
    steps = [r["step"] for r in records]
    loss_keys = sorted({k for r in records for k in r if k.startswith("loss/")})
    # D's mean probabilities: D(x), D(G(z)), and those of other variants (D(x,E(x)), D_A(real))
    found = {k for r in records for k in r if re.match(r"^D(_\w+)?\(", k)}
    prob_keys = [k for k in ("D(x)", "D(G(z))") if k in found]
    prob_keys += sorted(found - set(prob_keys))
    # SAGAN's attention gammas (Zhang et al. 2018, Sec. 3): how much each block attends
    gamma_keys = sorted({k for r in records for k in r if k.startswith("attn_gamma/")})
    fig, axes = plt.subplots(1, 3 if gamma_keys else 2, figsize=(15 if gamma_keys else 10, 3.6))
    for k in gamma_keys:
        axes[2].plot(steps, [r.get(k, np.nan) for r in records], label=k[len("attn_gamma/") :])
    if gamma_keys:
        axes[2].set(title="self-attention gamma", xlabel="step")
    for k in loss_keys:
        axes[0].plot(steps, [r.get(k, np.nan) for r in records], label=k[5:])
    axes[0].set(title="losses", xlabel="step")
    for k in prob_keys:
        axes[1].plot(steps, [r.get(k, np.nan) for r in records], label=k)
    axes[1].axhline(0.5, color="gray", lw=0.8, ls="--")
    axes[1].set(title="discriminator output (0.5 = equilibrium)", xlabel="step", ylim=(0, 1))
    for ax in axes:
        if any(not line.get_label().startswith("_") for line in ax.lines):
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _atomic(out, lambda b: fig.savefig(b, dpi=90, format="png"))
    plt.close(fig)
    return out


def toy_frame(
    real: np.ndarray,
    fake: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    d_prob: np.ndarray,
    step: int,
    out: Path,
) -> Path:
    """Real (black) and generated (red) 2-D points over D's output as a filled contour.

    The style of Goodfellow et al. 2014, Figure 1, in two dimensions.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    cs = ax.contourf(xs, ys, d_prob, levels=np.linspace(0, 1, 11), cmap="Blues", alpha=0.8)
    ax.scatter(real[:, 0], real[:, 1], s=2, c="black", alpha=0.4, label="data")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="red", alpha=0.5, label="G(z)")
    fig.colorbar(cs, ax=ax, fraction=0.046, pad=0.04, label="D(x)")
    ax.set(title=f"step {step}", xlim=(xs.min(), xs.max()), ylim=(ys.min(), ys.max()))
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    fig.tight_layout()
    _atomic(out, lambda b: fig.savefig(b, dpi=80, format="png"))
    plt.close(fig)
    return out


def toy_bounds(real: np.ndarray, margin: float = 0.25) -> tuple[float, float, float, float]:
    """A square-ish view box around the data, with a margin."""
    lo, hi = real.min(0), real.max(0)
    span = np.maximum(hi - lo, 1e-3)
    lo, hi = lo - margin * span, hi + margin * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def scatter_plot(points: np.ndarray, out: Path) -> Path:
    """Generated 2-D points (only the first two coordinates of wider vectors)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.scatter(points[:, 0], points[:, 1 if points.shape[1] > 1 else 0], s=2, c="red", alpha=0.5)
    ax.set(title=f"{len(points)} samples", aspect="equal")
    fig.tight_layout()
    _atomic(out, lambda b: fig.savefig(b, dpi=90, format="png"))
    plt.close(fig)
    return out


def point_sets(
    sets: Sequence[tuple[np.ndarray, str, str]], step: int, out: Path, lines: np.ndarray = None
) -> Path:
    """Several 2-D point sets, each (points, colour, label), e.g. domain A, G_AB(A) and B of a
    translation; ``lines`` (N, 2, 2) joins inputs to their outputs (a few, for legibility)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    if lines is not None:
        for (x0, y0), (x1, y1) in lines:
            ax.plot([x0, x1], [y0, y1], c="grey", lw=0.4, alpha=0.5)
    for points, colour, label in sets:
        ax.scatter(points[:, 0], points[:, 1], s=2, c=colour, alpha=0.5, label=label)
    ax.set(title=f"step {step}", aspect="equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    fig.tight_layout()
    _atomic(out, lambda b: fig.savefig(b, dpi=80, format="png"))
    plt.close(fig)
    return out
