"""``gankit train PRESET --out DIR`` and ``gankit resume DIR``: write and continue a run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gankit import api


def _cmd_train(args: argparse.Namespace) -> None:
    run = api.train(
        args.preset,
        args.out,
        steps=args.steps,
        epochs=args.epochs,
        seed=args.seed,
        overrides=args.set,
        progress=False if args.quiet else None,
    )
    _report(run.path)


def _cmd_resume(args: argparse.Namespace) -> None:
    run = api.resume(
        args.run, steps=args.steps, progress=False if args.quiet else None, overrides=args.set
    )
    _report(run.path)


def _report(path: Path) -> None:
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 speaks for the run
        return
    pictures = [
        p
        for p in (
            path / "samples" / "progress.gif",
            path / "frames" / "progress.gif",
            path / "losses.png",
        )
        if p.exists()
    ]
    print(f"run written to {path}")
    for p in pictures:
        print(f"  {p}")
    for line in _next_steps(path):
        print(line)


def _next_steps(path: Path) -> list[str]:
    """What to run next: `sample` where the run has a sample export, `apply` for each map
    export (a translation or super-resolution run has no noise-to-image model)."""
    from gankit.errors import GankitError
    from gankit.runs import run_exports

    try:
        exports = run_exports(path)
    except GankitError:  # no checkpoint (e.g. zero steps): nothing to suggest
        return []
    lines = []
    if any(e.kind == "sample" for e in exports.values()):
        lines.append(f"sample from it with: gankit sample {path} --n 64 --out samples.png")
    if any(e.kind == "map" for e in exports.values()):
        lines.append(f"apply it with: gankit apply {path} --input IMAGES --out OUTPUT")
    return lines


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a preset into a new run directory")
    p.add_argument("preset", help="a preset name (see `gankit list`)")
    p.add_argument("--out", required=True, help="the run directory to create")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="generator steps in total")
    length.add_argument("--epochs", type=float, help="passes over the data")
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.lr_g=1e-4 (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("resume", help="continue a run from its newest checkpoint")
    p.add_argument("run")
    p.add_argument("--steps", type=int, help="train to this many steps in total")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a key that may change midway (learning rates, device, log.*, eval.*, "
        "diagnose.*, NaN handling), e.g. --set train.lr_d=1e-4 (repeatable)",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_resume)
