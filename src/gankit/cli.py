"""The ``gankit`` command line (DESIGN "Contracts"): a thin layer over :mod:`gankit.api`.

Every user-caused problem surfaces as a GankitError and is printed as one line on stderr
with a non-zero exit code; tracebacks are reserved for bugs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from gankit import api
from gankit.errors import GankitError
from gankit.training.guard import TrainingStopped

EXIT_USER_ERROR = 2

# Modules that add their own subcommands: each defines add_commands(subparsers), whose
# parsers set `func`. Keeps command groups (eval, diagnose, dashboard, ...) in their own files.
COMMAND_MODULES: tuple[str, ...] = (
    "gankit.cli_dashboard",
    "gankit.cli_eval",
    "gankit.cli_latent",
    "gankit.cli_diagnose",
)


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
    run = api.resume(args.run, steps=args.steps, progress=False if args.quiet else None)
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
    print(f"sample from it with: gankit sample {path} --n 64 --out samples.png")


def _cmd_sample(args: argparse.Namespace) -> None:
    if args.per_class:  # a row per class: gankit.cli_latent
        from gankit.cli_latent import sample_per_class

        return sample_per_class(args)
    # a label on an unconditional run, or outside 0..K-1, is a one-line RunError
    samples = api.sample(args.run, args.n, seed=args.seed, ema=not args.no_ema, label=args.label)
    path = api.save_samples(samples, args.out)
    print(f"wrote {len(samples)} samples {tuple(samples.shape)} {samples.dtype} to {path}")


def _cmd_list(args: argparse.Namespace) -> None:
    from gankit.config import Config
    from gankit.data import DATASETS
    from gankit.losses import LOSSES
    from gankit.metrics.classifier import DOMAIN_DATASETS
    from gankit.metrics.evaluate import METRIC_NAMES
    from gankit.networks import NETWORKS
    from gankit.noise import PRIORS
    from gankit.presets import PRESETS
    from gankit.variants import VARIANTS

    if args.keys:
        cfg = Config()
        for section in dataclasses.fields(cfg):
            if not dataclasses.is_dataclass(getattr(cfg, section.name)):
                continue
            for f in dataclasses.fields(getattr(cfg, section.name)):
                value = getattr(getattr(cfg, section.name), f.name)
                print(f"{section.name}.{f.name:<18} {str(f.type):<14} default {value!r}")
        return
    print("presets:")
    for name, p in PRESETS.items():
        print(f"  {name:<16} {p.description}")
    for title, names in (
        ("variants", VARIANTS.names()),
        ("datasets", DATASETS.names()),
        ("losses", LOSSES.names()),
        ("networks", NETWORKS.names()),
        ("noise priors", list(PRIORS)),
        ("metrics", list(METRIC_NAMES)),
        ("extractors", ["domain:" + d for d in DOMAIN_DATASETS] + ["inception[:WEIGHTS]", "raw"]),
    ):
        print(f"{title}: {', '.join(names)}")
    from gankit.training.tricks import TRICKS

    print("tricks (docs/tricks.md):")
    for name, trick in TRICKS.items():
        print(f"  {name:<25} {trick.keys:<40} {trick.reference}")
    print("config keys: `gankit list --keys`")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

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
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_resume)

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

    p = sub.add_parser("list", help="list presets, variants, datasets, losses, ...")
    p.add_argument("--keys", action="store_true", help="list every config key")
    p.set_defaults(func=_cmd_list)

    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = _run(args)
    from gankit.training import distributed

    if distributed.env_info().enabled:  # under torchrun: leave the process group cleanly
        distributed.finish(ok=code == 0)
    return code


def _run(args: argparse.Namespace) -> int:
    try:
        args.func(args)
    except TrainingStopped as exc:  # SIGINT / SIGTERM: a checkpoint was written first
        print(f"gankit: {exc}", file=sys.stderr)
        return exc.exit_code
    except GankitError as exc:
        print(f"gankit: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
