"""``gankit apply RUN --input PATH --out PATH``: a run's input-to-output model on new inputs."""

from __future__ import annotations

import argparse

from gankit.applying import DIRECTIONS, RECONSTRUCT_EXPORT, apply, check_direction
from gankit.errors import ConfigError


def _cmd_apply(args: argparse.Namespace) -> None:
    if args.reconstruct and args.export is not None:
        raise ConfigError(
            f"--reconstruct is short for --export {RECONSTRUCT_EXPORT}; give one of the two, "
            "not both."
        )
    if args.direction is not None and (args.reconstruct or args.export is not None):
        raise ConfigError(
            "--direction picks the export of a two-way translation (a2b: apply, b2a: "
            "apply_ba); give it without --export or --reconstruct."
        )
    export = RECONSTRUCT_EXPORT if args.reconstruct else args.export or "apply"
    if args.direction is not None:
        export = DIRECTIONS[args.direction]
        check_direction(args.run, export)
    done = apply(args.run, args.input, args.out, export=export, ema=not args.no_ema)
    skipped = (
        f"; skipped {len(done['skipped'])} unusable file(s), named above" if done["skipped"] else ""
    )
    print(f"wrote {done['written']} output(s) to {done['out']}{skipped}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "apply",
        help="run a run's input-to-output model (translation, encoding, ...) on new inputs",
    )
    p.add_argument("run")
    p.add_argument("--input", required=True, help="FILE.npy, an image file or a folder")
    p.add_argument("--out", required=True, help="FILE.npy, FILE.png or a folder")
    p.add_argument(
        "--export",
        default=None,
        help="which of the run's models (default apply; `gankit list` names them)",
    )
    p.add_argument(
        "--reconstruct",
        action="store_true",
        help=f"reconstruct the inputs, x -> G(E(x)): short for --export {RECONSTRUCT_EXPORT} "
        "(runs that learn an encoder: bigan, ali, ...)",
    )
    p.add_argument(
        "--direction",
        choices=sorted(DIRECTIONS),
        default=None,
        help="two-way translators (cyclegan): a2b (the default model, apply) or b2a (apply_ba)",
    )
    p.add_argument("--no-ema", action="store_true", help="use the raw weights, not their EMA")
    p.set_defaults(func=_cmd_apply)
