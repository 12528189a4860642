"""What every command shares: turning a GankitError into one line on stderr and an exit code."""

from __future__ import annotations

import argparse
import sys

from gankit.errors import GankitError

EXIT_USER_ERROR = 2


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command ``args.func(args)``; its exit code."""
    try:
        args.func(args)
    except GankitError as exc:
        # Imported here, not at the top: only `train` and `resume` raise it, and `gankit eval`
        # or `gankit dashboard` should not load the training code.
        from gankit.training.guard import TrainingStopped

        if isinstance(exc, TrainingStopped):  # SIGINT / SIGTERM: a checkpoint was written first
            print(f"gankit: {exc}", file=sys.stderr)
            return exc.exit_code
        print(f"gankit: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    return 0
