"""``gankit sample RUN --n N --out FILE``: samples from a run's final generator."""

from __future__ import annotations

import argparse

from gankit import api
from gankit.cli.latent import sample_per_class


def _cmd_sample(args: argparse.Namespace) -> None:
    if args.per_class:  # a row per class: gankit.latent.per_class_grid
        return sample_per_class(args)
    # a label on an unconditional run, or outside 0..K-1, is a one-line RunError
    samples = api.sample(args.run, args.n, seed=args.seed, ema=not args.no_ema, label=args.label)
    path = api.save_samples(samples, args.out)
    print(f"wrote {len(samples)} samples {tuple(samples.shape)} {samples.dtype} to {path}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples from a run's generator")
    p.add_argument("run")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--out", required=True, help="FILE.npy, FILE.png (a grid) or DIR/ (PNGs)")
    p.add_argument("--seed", type=int)
    p.add_argument("--label", type=int, help="class to generate (conditional runs)")
    p.add_argument(
        "--per-class", action="store_true", help="a grid with one row of --n samples per class"
    )
    p.add_argument("--no-ema", action="store_true", help="use the raw G, not its EMA")
    p.set_defaults(func=_cmd_sample)
