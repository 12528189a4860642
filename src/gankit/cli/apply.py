"""``gankit apply RUN --input PATH --out PATH``: a run's input-to-output model on new inputs."""

from __future__ import annotations

import argparse

from gankit.applying import apply


def _cmd_apply(args: argparse.Namespace) -> None:
    done = apply(args.run, args.input, args.out, export=args.export, ema=not args.no_ema)
    skipped = f"; skipped {len(done['skipped'])} unreadable file(s)" if done["skipped"] else ""
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
        "--export", default="apply", help="which of the run's models (`gankit list` names them)"
    )
    p.add_argument("--no-ema", action="store_true", help="use the raw weights, not their EMA")
    p.set_defaults(func=_cmd_apply)
