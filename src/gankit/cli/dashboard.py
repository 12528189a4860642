"""``gankit dashboard [RUNS_DIR] [--port P] [--host H]``: the live dashboard in the browser."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gankit.errors import GankitError

DEFAULT_PORT = 8765


def _cmd_dashboard(args: argparse.Namespace) -> None:
    from gankit.dashboard.server import LOOPBACK_HOSTS, make_server

    root = Path(args.runs_dir)
    if not root.is_dir():
        raise GankitError(
            f"{root} is not a directory; give the folder that holds your runs "
            "(the parent of the --out directories of `gankit train`)."
        )
    if args.host not in LOOPBACK_HOSTS:
        print(
            f"gankit: warning: serving on {args.host}: anyone who can reach this machine "
            "can read your runs and use its CPU; the default 127.0.0.1 keeps it private.",
            file=sys.stderr,
        )
    try:
        server = make_server(root, host=args.host, port=args.port)
    except OSError as exc:
        raise GankitError(
            f"cannot listen on {args.host}:{args.port} ({exc.strerror}); "
            "choose another --port, or --port 0 for any free one."
        ) from None
    print(f"gankit dashboard: {server.url}  (runs in {server.catalog.root}; Ctrl-C stops it)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("dashboard", help="live training dashboard in the browser")
    p.add_argument(
        "runs_dir", nargs="?", default="runs", help="folder of run directories (default: runs)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.set_defaults(func=_cmd_dashboard)
