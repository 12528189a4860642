"""DiffAugment: Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for
Data-Efficient GAN Training" (NeurIPS 2020).

A discriminator trained on few images memorises them. Augmenting only the real images would
teach G to produce augmented images, so the same family of differentiable transformations T
is applied to every image D sees, real and fake, in D's steps and in G's (Sec. 3, Eq. 3-4):

    L_D = f(D(T(x))) + f(-D(T(G(z)))),     L_G = f(-D(T(G(z)))),

and G's gradient flows through T. The paper's three transformations (Sec. 3, "Augmentation
choices"), each with its own random parameters per image:

- ``color``: brightness + U(-0.5, 0.5); saturation: the deviation from the image's
  per-pixel channel mean scaled by U(0, 2); contrast: the deviation from the image mean scaled
  by U(0.5, 1.5) (on images in [-1, 1]);
- ``translation``: a shift of up to 1/8 of the image size in each direction, zero-filled;
- ``cutout``: a square of half the image size, at a random position, set to 0.

Random parameters come from the run's saved noise stream, so a resumed run augments exactly
as the uninterrupted one would.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import ConfigError

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125  # largest shift, as a fraction of the side (Zhao et al. 2020)
CUTOUT_RATIO = 0.5  # side of the cut-out square, as a fraction of the side


def parse_policy(text: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> checked names, in order; "" -> ()."""
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in names if p not in POLICIES]
    if bad:
        raise ConfigError(
            f"tricks.diffaugment: unknown transformation {bad[0]!r}; use a comma list of "
            f"{', '.join(POLICIES)} (e.g. tricks.diffaugment=color,translation,cutout)."
        )
    return names


def _uniform(n: int, rng: torch.Generator | None, like: Tensor) -> Tensor:
    """(n, 1, 1, 1) U(0, 1) on ``like``'s device and dtype."""
    u = torch.rand(n, 1, 1, 1, generator=rng, device=like.device)
    return u.to(like.dtype)


def color(x: Tensor, rng: torch.Generator | None) -> Tensor:
    n = x.shape[0]
    x = x + (_uniform(n, rng, x) - 0.5)  # brightness
    mean_c = x.mean(dim=1, keepdim=True)
    x = (x - mean_c) * (_uniform(n, rng, x) * 2.0) + mean_c  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(n, rng, x) + 0.5) + mean  # contrast


def translation(x: Tensor, rng: torch.Generator | None) -> Tensor:
    """Each image shifted by whole pixels (dy, dx) in [-s, s], s = round(side / 8), with
    zeros shifted in; a gather, so gradients reach every kept pixel."""
    n, _, h, w = x.shape
    sy, sx = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), generator=rng, device=x.device)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), generator=rng, device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy  # (n, h, 1): source row
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx  # (n, 1, w): source column
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (n, h, w)
    flat = rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)  # (n, h, w)
    src = x.flatten(2)  # (n, c, h*w)
    idx = flat.flatten(1).unsqueeze(1).expand(-1, x.shape[1], -1)  # (n, c, h*w)
    moved = src.gather(2, idx).view_as(x)
    return moved * inside.unsqueeze(1).to(x.dtype)


def cutout(x: Tensor, rng: torch.Generator | None) -> Tensor:
    """Each image with a square of half its side zeroed, centred at a random pixel (the
    square may hang over the border, as in the paper's code of the same idea)."""
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=rng, device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=rng, device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    cut = (
        (rows >= cy - ch // 2) & (rows < cy - ch // 2 + ch)
        & (cols >= cx - cw // 2) & (cols < cx - cw // 2 + cw)
    )  # fmt: skip
    return x * (~cut).unsqueeze(1).to(x.dtype)


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: Tensor, policy: tuple[str, ...], rng: torch.Generator | None) -> Tensor:
    """T(x): the ``policy``'s transformations in order, on images (N, C, H, W)."""
    if not policy:
        return x
    if x.ndim != 4:
        raise ConfigError(
            f"tricks.diffaugment augments images (N, C, H, W); this discriminator judges "
            f"inputs of shape {tuple(x.shape)}. Turn it off (tricks.diffaugment=)."
        )
    for name in policy:
        x = TRANSFORMS[name](x, rng)
    return x
