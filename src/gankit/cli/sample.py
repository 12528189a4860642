"""``gankit sample RUN --n N --out FILE``: samples from a run's final generator."""

from __future__ import annotations

import argparse

from gankit import api
from gankit.cli.latent import sample_per_class
from gankit.errors import RunError


def _cmd_sample(args: argparse.Namespace) -> None:
    if args.per_class:  # a row per class: gankit.latent.per_class_grid
        return sample_per_class(args)
    # a label on an unconditional run, or outside 0..K-1, is a one-line RunError
    codes = dict(_code(text) for text in args.code)
    samples = api.sample(
        args.run, args.n, seed=args.seed, ema=not args.no_ema, label=args.label, codes=codes,
        text=args.text,
    )  # fmt: skip
    path = api.save_samples(samples, args.out)
    print(f"wrote {len(samples)} samples {tuple(samples.shape)} {samples.dtype} to {path}")


def _code(text: str) -> tuple[int, float]:
    """``C=V``: latent code number C fixed to V (a category index or a continuous value)."""
    number, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return int(number), float(value)
    except ValueError:
        raise RunError(
            f"--code {text!r} must look like C=V, e.g. --code 0=3 (code 0 set to 3); "
            "`gankit list` and the run's layout name its codes."
        ) from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples from a run's generator")
    p.add_argument("run")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--out", required=True, help="FILE.npy, FILE.png (a grid) or DIR/ (PNGs)")
    p.add_argument("--seed", type=int)
    p.add_argument("--label", type=int, help="class to generate (conditional runs)")
    p.add_argument(
        "--text", help='a caption, e.g. "a dark ankle boot" (text runs: gan-int-cls, stackgan)'
    )
    p.add_argument(
        "--per-class", action="store_true", help="a grid with one row of --n samples per class"
    )
    p.add_argument("--no-ema", action="store_true", help="use the raw G, not its EMA")
    p.add_argument(
        "--code",
        action="append",
        default=[],
        metavar="C=V",
        help="fix latent code C to V: an InfoGAN code, an AAE cluster / mixture component "
        "(code 0), e.g. --code 0=3 (repeatable)",
    )
    p.set_defaults(func=_cmd_sample)
