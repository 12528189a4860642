"""The ``gankit`` command line (DESIGN "Contracts"): a thin layer over :mod:`gankit.api`.

Every user-caused problem surfaces as a GankitError and is printed as one line on stderr
with a non-zero exit code; tracebacks are reserved for bugs.

One module per command group; each defines ``add_commands(subparsers)``, whose parsers set
``func`` (the function the command runs). A new group is a module and an entry in
:data:`COMMAND_GROUPS`.
"""

from __future__ import annotations

import argparse

from gankit.cli import (
    apply,
    apps,
    classifier,
    dashboard,
    diagnose,
    explain,
    latent,
    listing,
    probe,
    sample,
    text,
    train,
)
from gankit.cli import eval as eval_  # the module, not the builtin
from gankit.cli.common import EXIT_USER_ERROR, run_command

__all__ = ["COMMAND_GROUPS", "EXIT_USER_ERROR", "build_parser", "main"]

# In the order `gankit --help` lists their commands.
COMMAND_GROUPS = (
    train,  # train, resume
    sample,  # sample
    apply,  # apply
    listing,  # list
    dashboard,  # dashboard
    eval_,  # eval, extractor
    latent,  # traverse, interpolate
    diagnose,  # diagnose
    probe,  # probe
    apps,  # cas, balance, transfer
    explain,  # explain (FIGAN)
    classifier,  # classifier train
    text,  # text-encoder train
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = run_command(args)
    from gankit.training import distributed

    if distributed.env_info().enabled:  # under torchrun: leave the process group cleanly
        distributed.finish(ok=code == 0)
    return code
