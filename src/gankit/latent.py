"""Exploring a generator's latent space: per-class grids, code traversals, interpolations.

:func:`traverse` varies one latent code with the others and the noise fixed (Chen et al. 2016,
Figure 2: one code per picture, a column per value, a row per fixed sample); :func:`interpolate`
walks linearly or along the great circle between two latent points or two labels;
:func:`per_class_grid` draws one row per class (Mirza & Osindero 2014, Figure 2).

The functions return uint8 images (rows, columns, C, H, W); :func:`save_grid` and
:func:`save_walk` write them. The commands ``gankit traverse``, ``gankit interpolate`` and
``gankit sample --per-class`` (:mod:`gankit.cli.latent`) and the dashboard's latent explorer
are built on them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from gankit.errors import RunError
from gankit.runs import Generator


def _uint8(x: torch.Tensor) -> np.ndarray:
    from gankit.data import from_unit_range

    return from_unit_range(x).numpy()


def _image_generator(G: Generator) -> Generator:
    if G.kind != "image":
        raise RunError(f"{G.source} makes vectors; these pictures need an image run.")
    return G


def code_grid(G: Generator, code: int, values, n: int, seed: int | None) -> np.ndarray:
    """(len(values), n, C, H, W): row r holds n samples with code ``code`` set to values[r].

    Every row uses the same seed, so z and the other codes are the same down each column.
    """
    for v in values:
        G.layout.check(None, {code: v}, G.source)
    seed = 0 if seed is None else seed
    return np.stack([_uint8(G.sample(n, seed=seed, codes={code: v})) for v in values])


def per_class_grid(G: Generator, n: int, seed: int | None = None) -> np.ndarray:
    """(K, n, C, H, W): one row per class of a conditional run, the same z down each column."""
    if not G.layout.num_classes:
        raise RunError(
            f"{G.source} is not a conditional run; --per-class needs labels "
            "(for InfoGAN codes use `gankit traverse`)."
        )
    return code_grid(_image_generator(G), 0, range(G.layout.num_classes), n, seed)


def traverse(
    G: Generator,
    code: int,
    steps: int = 10,
    rows: int = 8,
    seed: int | None = None,
    span: tuple[float, float] = (-2.0, 2.0),
) -> np.ndarray:
    """(rows, columns, C, H, W): code ``code`` varies along each row, everything else fixed.

    A categorical code (or the class label) takes each of its values; a continuous code
    ``steps`` values evenly over ``span`` (Chen et al. 2016 go from -2 to 2, beyond the
    U(-1, 1) of training, to show extrapolation).
    """
    _image_generator(G)
    known = G.layout.codes()
    G.layout.check(None, {code: 0}, G.source)  # a one-line error for a code that does not exist
    k = known[code][1]
    values = list(range(k)) if k else [float(v) for v in np.linspace(*span, steps)]
    return code_grid(G, code, values, rows, seed).swapaxes(0, 1)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """(1 - t) a + t b; ``t`` a number, or a (steps, 1) tensor against (1, d) rows."""
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation row by row (Shoemake 1985; for GAN latents White 2016, Sec. 2.1):

        slerp(a, b; t) = sin((1 - t) theta) / sin(theta) a + sin(t theta) / sin(theta) b,
        cos(theta) = a . b / (|a| |b|),

    which keeps Gaussian latents at a typical norm, where a straight line passes near the
    origin. ``a``, ``b``: (rows, d); ``t`` a number, or a (steps, 1) tensor with rows = 1 for a
    whole path at once. The ends are exact (t = 0 gives ``a``, t = 1 ``b``). Nearly parallel
    or opposite rows (sin(theta) ~ 0) fall back to lerp.
    """
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1).unsqueeze(1)  # (rows, 1)
    theta = torch.arccos(cos.clamp(-1, 1))
    sin = torch.sin(theta)
    near = sin.abs() < 1e-6
    safe = torch.where(near, torch.ones_like(sin), sin)
    out = torch.sin((1 - t) * theta) / safe * a + torch.sin(t * theta) / safe * b
    return torch.where(near, lerp(a, b, t), out)


def interpolate(
    G: Generator,
    steps: int = 10,
    rows: int = 6,
    seed: int | None = None,
    mode: str = "spherical",
    labels: tuple[int, int] | None = None,
    label: int | None = None,
    texts: tuple[torch.Tensor, ...] | None = None,
) -> np.ndarray:
    """(rows, steps, C, H, W): each row walks from one latent point to another.

    Without ``labels``: between two draws of z (seed and seed + 1); labels (``label`` or those of
    the first draw) stay fixed and InfoGAN's code vector moves linearly. With ``labels=(a, b)``
    (conditional runs): z stays fixed and the label code moves from code(a) to code(b).
    Text runs: ``texts=(phi_a,)`` keeps that caption while z moves; ``texts=(phi_a, phi_b)``
    keeps z and moves the caption embedding linearly from a to b (Reed et al. 2016, Sec. 4.3:
    G is trained between captions). Without ``texts`` row i keeps training caption i.
    """
    _image_generator(G)
    if steps < 2 or rows < 1:
        raise RunError(f"--steps must be >= 2 and --rows >= 1, got {steps} and {rows}.")
    if mode not in ("linear", "spherical"):
        raise RunError(f"--mode {mode!r}: use linear or spherical.")
    if labels is not None and not G.layout.num_classes:
        raise RunError(f"{G.source} is not a conditional run; --labels needs one (drop it).")
    for lab in (*(labels or ()), label):
        G.layout.check(lab, {}, G.source)
    seed = 0 if seed is None else seed
    fixed = {0: label} if label is not None else {}
    draws = []
    for s in (seed, seed + 1):
        gen = torch.Generator(device=G.device).manual_seed(s)
        draws.append(G.layout.draw(rows, G.prior, gen, G.device, fixed))
    a, b = draws
    walk = slerp if mode == "spherical" else lerp
    if texts or G.text_conditioned:
        G.require_text()  # a RunError line for captions to a run that takes none
        start = texts[0] if texts else G.bank_text(torch.arange(rows))
        a["text"] = start.reshape(-1, start.shape[-1]).expand(rows, -1).to(G.device)
    frames = []
    for t in np.linspace(0.0, 1.0, steps):
        if texts and len(texts) == 2:
            end = texts[1].reshape(1, -1).expand(rows, -1).to(G.device)
            inputs = {**a, "text": lerp(a["text"], end, float(t))}
        elif labels is not None:
            code_a = G.net.label_code(torch.full((rows,), labels[0], device=G.device))
            code_b = G.net.label_code(torch.full((rows,), labels[1], device=G.device))
            inputs = {**a, "y_code": walk(code_a, code_b, float(t))}
            inputs.pop("y")
        else:
            inputs = {**a, "z": walk(a["z"], b["z"], float(t))}
            if "c" in a:
                inputs["c"] = lerp(a["c"], b["c"], float(t))
        frames.append(_uint8(G.generate(**inputs)))
    return np.stack(frames, 1)


# --- writing pictures ---------------------------------------------------------------------------
def save_grid(images: np.ndarray, out: str | Path) -> Path:
    """(rows, cols, C, H, W) uint8 -> a PNG grid, or .npy with the rows flattened."""
    from gankit import viz

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, cols = images.shape[:2]
    flat = images.reshape(rows * cols, *images.shape[2:])
    if out.suffix == ".npy":
        np.save(out, flat)
    elif out.suffix == ".png":
        viz.image_grid(flat, nrow=cols).save(out)
    else:
        raise RunError(f"--out {out}: use FILE.png (a grid) or FILE.npy.")
    return out


def save_walk(images: np.ndarray, out: str | Path, duration_ms: int = 120) -> Path:
    """(rows, steps, ...) -> a PNG grid (a row per walk) or a looping GIF (a frame per step,
    the rows side by side, played forwards then backwards)."""
    from gankit import viz

    out = Path(out)
    if out.suffix != ".gif":
        return save_grid(images, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows, steps = images.shape[:2]
    nrow = math.ceil(math.sqrt(rows))
    frames = [
        viz.image_grid(images[:, t], nrow=nrow, min_cell=56).convert("P") for t in range(steps)
    ]
    frames += frames[-2:0:-1]  # ping-pong, so the loop has no jump
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return out
