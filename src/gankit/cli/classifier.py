"""``gankit classifier train``: train gankit's DomainCNN on a labelled dataset, for FIGAN.

``gankit classifier train --data folder --root DIR --out FILE.safetensors`` trains on a folder
with one subfolder per class (any labelled dataset name works), holds out ``--val`` of the
images to measure it, and writes weights, architecture and class names into one safetensors
file; ``--set options.classifier=FILE`` makes a figan run explain it. The logic is
gankit.applications.figan.
"""

from __future__ import annotations

import argparse


def _cmd_train(args: argparse.Namespace) -> None:
    from gankit.applications.figan import train_labelled_classifier

    r = train_labelled_classifier(
        args.data,
        args.out,
        root=args.root,
        image_size=args.image_size,
        channels=args.channels,
        epochs=args.epochs,
        width=args.width,
        seed=args.seed,
        val_fraction=args.val,
        progress=not args.quiet,
    )
    print(
        f"wrote {r['out']}: {len(r['classes'])} classes, {r['n_train']} training images, "
        f"held-out accuracy {r['val_accuracy']:.3f} on {r['n_val']}"
    )


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classifier", help="train a classifier on labelled images (for FIGAN)")
    inner = p.add_subparsers(dest="classifier_command", required=True)
    t = inner.add_parser("train", help="train gankit's DomainCNN and write FILE.safetensors")
    t.add_argument("--data", default="folder", help="a labelled dataset (default: folder)")
    t.add_argument("--root", help="the folder (one subfolder per class) or data file")
    t.add_argument("--out", required=True, help="FILE.safetensors to write")
    t.add_argument("--image-size", type=int, help="resize images to this side")
    t.add_argument("--channels", type=int, choices=(1, 3), help="force grey or RGB")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--width", type=int, default=32, help="channels of the first block")
    t.add_argument("--val", type=float, default=0.1, help="held-out fraction")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)
