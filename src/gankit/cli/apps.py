"""``gankit cas RUN`` (Classification Accuracy Score beside real-data training) and
``gankit balance RUN --data D --out DIR`` (a class-balanced training folder with synthetic
images marked as such) and ``gankit transfer RUN --labels-per-class N`` (the discriminator
fine-tuned as a base model beside the same network from random weights); see
gankit.metrics.cas, gankit.applications.balance and gankit.applications.transfer."""

from __future__ import annotations

import argparse
import json
import sys


def _cmd_cas(args: argparse.Namespace) -> None:
    from gankit.metrics.cas import classification_accuracy_score, run_inputs

    # the run, its reference and both splits, checked as `gankit eval --metrics cas` does
    inputs, described = run_inputs(args.run, args.reference, data_root=args.data_root)
    report = classification_accuracy_score(
        inputs.generator,
        inputs.ref_train,
        inputs.ref_test,
        per_class=args.per_class,
        seed=args.seed,
        epochs=args.epochs,
        width=args.width,
    )
    print(json.dumps({"reference": described, **report}))


def _cmd_balance(args: argparse.Namespace) -> None:
    from gankit.applications.balance import balance

    summary = balance(
        args.run,
        args.data,
        args.out,
        per_class=args.per_class,
        data_root=args.data_root,
        seed=args.seed,
    )
    made = sum(c["synthetic"] for c in summary["classes"])
    real = sum(c["real"] for c in summary["classes"])
    print(f"wrote {args.out}: {real} real and {made} synthetic images", file=sys.stderr)


def _cmd_transfer(args: argparse.Namespace) -> None:
    from gankit.applications.transfer import table, transfer

    say = None if args.quiet else lambda msg: print(msg, file=sys.stderr, flush=True)
    report = transfer(
        args.run,
        args.labels_per_class,
        draws=args.draws,
        seed=args.seed,
        data=args.data,
        data_root=args.data_root,
        test_n=args.test_n,
        epochs=args.epochs,
        min_steps=args.min_steps,
        lr=args.lr,
        flip=args.flip,
        progress=say,
    )
    print(json.dumps(report))
    print(table(report))


def add_commands(sub: argparse._SubParsersAction) -> None:
    from gankit.metrics.cas import DEFAULTS

    p = sub.add_parser(
        "cas",
        help="Classification Accuracy Score: a classifier trained on a conditional run's "
        "samples, tested on real test images, beside the same trained on real images "
        "(Ravuri & Vinyals 2019)",
    )
    p.add_argument("run")
    p.add_argument(
        "--reference",
        default=None,
        help="labelled dataset with train and test splits, e.g. fashion-mnist:test "
        "(default: the run's own dataset)",
    )
    p.add_argument("--data-root", default=None, help="where the reference dataset's files are")
    p.add_argument("--per-class", type=int, default=DEFAULTS["per_class"])
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--width", type=int, default=DEFAULTS["width"], help="classifier width")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_cas)

    b = sub.add_parser(
        "balance",
        help="write a class-balanced image folder: a dataset's real images plus a "
        "conditional run's samples (synthetic_*.png) for the smaller classes",
    )
    b.add_argument("run")
    b.add_argument("--data", required=True, help="the labelled dataset, e.g. fashion-mnist")
    b.add_argument("--data-root", default=None, help="where the dataset's files are")
    b.add_argument("--out", required=True, help="a new (or empty) folder")
    b.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="images per class (default: the largest class's count)",
    )
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=_cmd_balance)

    from gankit.applications.transfer import DEFAULTS as TRANSFER

    t = sub.add_parser(
        "transfer",
        help="the discriminator as a base model: fine-tune all its layers with a new class "
        "head on N labels per class, beside the same network from random weights",
    )
    t.add_argument("run")
    t.add_argument("--labels-per-class", type=int, required=True, metavar="N")
    t.add_argument("--draws", type=int, default=3, help="random draws of the N labels per class")
    t.add_argument("--seed", type=int, default=0, help="of the draws, heads and random weights")
    t.add_argument(
        "--data", default=None, help="labelled dataset (default: the run's own, e.g. digits)"
    )
    t.add_argument("--data-root", default=None, help="where the dataset's files are")
    t.add_argument(
        "--test-n", type=int, default=None, help="score on this many test images (default: all)"
    )
    t.add_argument(
        "--epochs", type=int, default=TRANSFER["epochs"], help="passes over the labelled images"
    )
    t.add_argument("--min-steps", type=int, default=TRANSFER["min_steps"], help="at least")
    t.add_argument("--lr", type=float, default=TRANSFER["lr"], help="Adam, cosine decay to 0")
    t.add_argument("--flip", action="store_true", help="also random left-right flips")
    t.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    t.set_defaults(func=_cmd_transfer)
