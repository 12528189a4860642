"""``gankit cas RUN`` (Classification Accuracy Score beside real-data training) and
``gankit balance RUN --data D --out DIR`` (a class-balanced training folder with synthetic
images marked as such); see gankit.metrics.cas and gankit.applications.balance."""

from __future__ import annotations

import argparse
import json
import sys

from gankit.errors import ConfigError


def _split_reference(ref: str) -> tuple[str, str]:
    """``fashion-mnist:test`` -> (fashion-mnist, test); the test split is what CAS scores on."""
    name, _, split = ref.partition(":")
    if not name or split not in ("", "test"):
        raise ConfigError(
            f"--reference {ref!r}: give a labelled dataset, optionally with ':test' "
            "(CAS always trains on its train split and scores on its test split)"
        )
    return name, "test"


def _cmd_cas(args: argparse.Namespace) -> None:
    from gankit.data import load_dataset
    from gankit.metrics.cas import classification_accuracy_score
    from gankit.runs import load_generator

    G = load_generator(args.run)
    if args.reference is None:
        from gankit.runs import RunDir

        cfg = RunDir.open(args.run).config()
        name, root = cfg.data.name, cfg.data.root or None
    else:
        (name, _), root = _split_reference(args.reference), args.data_root
    size = G.sample(1, seed=0, label=0).shape[-1] if G.num_classes else None
    train = load_dataset(name, root=root, split="train", image_size=size)
    test = load_dataset(name, root=root, split="test", image_size=size)
    report = classification_accuracy_score(
        G,
        train,
        test,
        per_class=args.per_class,
        seed=args.seed,
        epochs=args.epochs,
        width=args.width,
    )
    print(json.dumps({"reference": f"{name}:test", **report}))


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
