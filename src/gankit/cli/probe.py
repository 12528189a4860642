"""``gankit probe RUN``: a linear SVM on a run's features beside raw pixels and random weights
(Radford et al. 2015, Sec. 5.1); see :mod:`gankit.probe` for the protocol.

``gankit probe RUN --detect SOURCE``: the run's discriminator as a fake detector, real
held-out images against SOURCE's samples; see :mod:`gankit.detect`."""

from __future__ import annotations

import argparse
import json
import sys

from gankit.probe import SOURCES, probe, table


def _cmd_probe(args: argparse.Namespace) -> None:
    say = None if args.quiet else lambda msg: print(msg, file=sys.stderr, flush=True)
    if args.detect is not None:
        from gankit import detect

        report = detect.detect(
            args.run,
            source=args.detect,
            n=args.n,
            seed=args.seed,
            ema=not args.no_ema,
            data=args.data,
            data_root=args.data_root,
            progress=say,
        )
        print(json.dumps(report))
        print(detect.table(report))
        return
    report = probe(
        args.run,
        data=args.data,
        data_root=args.data_root,
        per_class=args.per_class,
        draws=args.draws,
        seed=args.seed,
        source=args.source,
        progress=say,
    )
    print(json.dumps(report))
    print(table(report))


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe",
        help="linear SVM on a run's discriminator or encoder features, beside raw pixels "
        "and the same network with random weights (DCGAN Sec. 5.1)",
    )
    p.add_argument("run")
    p.add_argument(
        "--data",
        default=None,
        help="a labelled dataset with train and test splits "
        "(default: the run's own, e.g. fashion-mnist, digits)",
    )
    p.add_argument("--data-root", default=None, help="where the dataset's files are")
    p.add_argument("--per-class", type=int, default=100, help="labelled examples per class")
    p.add_argument("--draws", type=int, default=10, help="random draws of those labels")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the draws and random weights (--detect: of the real picks and samples)",
    )
    p.add_argument(
        "--source",
        choices=SOURCES,
        default="features",
        help="features: the discriminator's conv layers; encoder: the run's encoder_features "
        "export (pooled conv features + code) where it has one, else its codes; codes: the "
        "encoder's latent code alone",
    )
    p.add_argument(
        "--detect",
        metavar="SOURCE",
        default=None,
        help="instead: the run's discriminator as a fake detector, held-out real images vs "
        "samples of SOURCE ('self' or another run directory); ROC AUC of D's logit beside a "
        "linear probe on D's features",
    )
    p.add_argument(
        "--n",
        type=int,
        default=None,
        help="--detect: real and fake images, each (default 2000, or the whole held-out split "
        "where it is smaller)",
    )
    p.add_argument(
        "--no-ema", action="store_true", help="--detect: SOURCE's raw G weights, not their EMA"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_probe)
