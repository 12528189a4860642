"""FIGAN step 3 (Hasenstab et al. 2023, Sec. II-C): generated image analysis.

With the noise z fixed, G(z, f) is drawn while f moves along a straight line in the reduced
feature space: from one class's mean feature to another's (``--from shirt --to t-shirt``) or
along principal component i (``--pc i``, from -span to +span whitened standard deviations).
The frozen classifier scores every picture, so the grid shows what the images look like where
the classifier changes its mind; the last column is |G(z, f_end) - G(z, f_start)|, where the
image changes along the walk. These are features the classifier *uses* (correlations it has
learned), not causes of the class (docs/figan.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from gankit.errors import RunError
from gankit.networks.figan_features import FeatureMap
from gankit.runs import Generator, load_generator, load_model, run_exports

CELL = 96  # the side images are drawn at (nearest upscaling), pixels
TEXT_H = 14  # one line of Pillow's default font


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_class(value: str | int, names: list[str]) -> int:
    """The index of class ``value``: an index, a name, or one part of a name ("t-shirt" is
    "T-shirt/top"), ignoring case and punctuation; one RunError line listing the valid ones."""
    text = str(value).strip()
    if text.isdigit() and int(text) < len(names):
        return int(text)
    want = _key(text)
    for i, name in enumerate(names):
        if want and (want == _key(name) or want in {_key(p) for p in name.split("/")}):
            return i
    listed = ", ".join(f"{i}={n}" for i, n in enumerate(names))
    raise RunError(f"unknown class {text!r}; valid classes (name or index): {listed}.")


def load_explainer(run: str | Path) -> tuple[Generator, FeatureMap]:
    """The run's generator G(z, f) and its frozen classifier with the PCA (a figan run)."""
    fm = None
    if "features" in run_exports(run):  # dcgan's "features" are D's: check what it is
        fm = load_model(run, export="features").net
    if not isinstance(fm, FeatureMap):
        raise RunError(
            f"{run} is not a figan run (it has no classifier feature map); train one with "
            "`gankit train figan-fashion --out RUN`."
        )
    return load_generator(run), fm


def endpoints(fm: FeatureMap, frm=None, to=None, pc: int | None = None, span: float = 3.0):
    """(f_start, f_end, source class or None, target class or None, title)."""
    if pc is not None:
        if frm is not None or to is not None:
            raise RunError("give either --pc or --from and --to, not both.")
        if not 0 <= pc < fm.k:
            raise RunError(f"--pc {pc} does not exist; this run has components 0..{fm.k - 1}.")
        e = torch.zeros(fm.k)
        e[pc] = span
        return -e, e, None, None, f"principal component {pc}, -{span:g} to +{span:g} sd"
    if frm is None or to is None:
        raise RunError("give --from CLASS and --to CLASS (or --pc I for a component).")
    if not fm.num_classes:
        raise RunError("this run's data had no labels, so no class means; use --pc I.")
    s, t = resolve_class(frm, fm.class_names), resolve_class(to, fm.class_names)
    title = f"{fm.class_names[s]} -> {fm.class_names[t]}"
    return fm.class_means[s].clone(), fm.class_means[t].clone(), s, t, title


@torch.no_grad()
def walk(G: Generator, fm: FeatureMap, start, end, steps: int, rows: int, seed: int):
    """Images (rows, steps, C, H, W) in [-1, 1] and the classifier's probabilities
    (rows, steps, K) along f(t) = (1 - t) f_start + t f_end, one fixed z per row."""
    if steps < 2 or rows < 1:
        raise RunError(f"--steps must be >= 2 and --rows >= 1, got {steps}, {rows}.")
    gen = torch.Generator(device=G.device).manual_seed(seed)
    z = G.prior.sample(rows, gen, G.device).cpu()  # (rows, z_dim)
    t = torch.linspace(0, 1, steps)[:, None]
    f = (1 - t) * start[None] + t * end[None]  # (steps, k)
    zz = z.repeat_interleave(steps, 0)  # (rows * steps, z_dim): row r is noise r throughout
    ff = f.repeat(rows, 1)
    x = torch.cat([G.generate(a, c=b) for a, b in zip(zz.split(500), ff.split(500))])
    probs = fm.probabilities(x)
    return x.reshape(rows, steps, *x.shape[1:]), probs.reshape(rows, steps, -1)


def _cell(img: np.ndarray) -> Image.Image:
    """(C, H, W) in [-1, 1] -> a CELL x CELL picture (nearest: pixels stay visible)."""
    arr = ((np.clip(img, -1, 1) + 1) * 127.5).round().astype(np.uint8)
    pic = Image.fromarray(arr[0]) if arr.shape[0] == 1 else Image.fromarray(arr.transpose(1, 2, 0))
    return pic.convert("RGB").resize((CELL, CELL), Image.NEAREST)


def _heat(diff: np.ndarray) -> Image.Image:
    """|difference| (H, W), scaled to its row's maximum, as black -> red -> yellow."""
    d = diff / max(float(diff.max()), 1e-8)
    rgb = np.stack([np.clip(2 * d, 0, 1), np.clip(2 * d - 1, 0, 1), np.zeros_like(d)], -1)
    return Image.fromarray((rgb * 255).astype(np.uint8)).resize((CELL, CELL), Image.NEAREST)


def render(images, probs, names, source, target, title, out: str | Path) -> Path:
    """The walk grid with the probabilities under each image and the difference map."""
    rows, steps = images.shape[:2]
    font = ImageFont.load_default()
    lines = 2 if source is not None else 1
    cell_h = CELL + lines * TEXT_H + 4
    W, H = (steps + 1) * (CELL + 4) + 4, TEXT_H * 2 + rows * cell_h + 4
    canvas = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(canvas)
    legend = f"p({names[target]}) / p({names[source]})" if source is not None else "top class"
    draw.text((4, 2), f"{title}   under each image: {legend}", fill="black", font=font)
    draw.text((4 + steps * (CELL + 4), TEXT_H + 2), "|end - start|", fill="black", font=font)
    x_np = images.numpy()
    for r in range(rows):
        y0 = TEXT_H * 2 + r * cell_h
        for s in range(steps):
            x0 = 4 + s * (CELL + 4)
            canvas.paste(_cell(x_np[r, s]), (x0, y0))
            p = probs[r, s]
            if source is not None:
                text = [
                    f"{names[target][:9]} {p[target]:.2f}",
                    f"{names[source][:9]} {p[source]:.2f}",
                ]
            else:
                top = int(p.argmax())
                text = [f"{names[top][:10]} {p[top]:.2f}"]
            for i, line in enumerate(text):
                draw.text((x0 + 1, y0 + CELL + 1 + i * TEXT_H), line, fill="black", font=font)
        diff = np.abs(x_np[r, -1] - x_np[r, 0]).mean(0)  # (H, W), mean over channels
        canvas.paste(_heat(diff), (4 + steps * (CELL + 4), y0))
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise RunError(f"--out {out}: the walk is a picture; use FILE.png.")
    out.parent.mkdir(parents=True, exist_ok=True)
    from gankit.viz import save_png

    return save_png(canvas, out)


def explain(
    run, out, frm=None, to=None, pc=None, steps=8, rows=4, seed=0, span=3.0
) -> dict[str, Any]:
    """`gankit explain`: draw the walk into ``out``; returns its mean target probabilities."""
    if Path(out).suffix.lower() != ".png":  # before any work
        raise RunError(f"--out {out}: the walk is a picture; use FILE.png.")
    G, fm = load_explainer(run)
    start, end, source, target, title = endpoints(fm, frm, to, pc, span)
    images, probs = walk(G, fm, start, end, steps, rows, seed)
    names = fm.class_names or [str(i) for i in range(probs.shape[-1])]
    if len(names) != probs.shape[-1]:
        names = [str(i) for i in range(probs.shape[-1])]
    path = render(images, probs, names, source, target, title, out)
    mean = probs[..., target].mean(0).tolist() if target is not None else None
    return {"out": str(path), "title": title, "mean_target_probability": mean}
