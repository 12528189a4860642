"""``gankit text-encoder train DATASET``: train (or find) the caption encoder phi(t) of a
captioned dataset ahead of training, and say where it is cached and how well it matches.

The encoder is otherwise trained on first use by the dataset loader (gankit.data.captions);
``--force`` retrains it. The check: each test caption's nearest class among the class-only
captions ("a sneaker", ...), the fraction that names the caption's class (built-in sets)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from gankit.errors import ConfigError


def _cmd_train(args: argparse.Namespace) -> None:
    from gankit.data import load_dataset
    from gankit.text.encoder import dataset_encoder, encoder_dir

    if args.dataset not in ("fashion-captions", "digits-captions", "caption-folder"):
        raise ConfigError(
            f"{args.dataset!r} has no captions; use fashion-captions, digits-captions or "
            "caption-folder --root DIR."
        )
    if args.force:
        shutil.rmtree(encoder_dir(args.dataset), ignore_errors=True)
    data = load_dataset(args.dataset, root=args.root)
    enc = dataset_encoder(data)
    ref = data.info["text_encoder"]
    record = json.loads((encoder_dir(ref["dataset"]) / f"{ref['key']}.json").read_text())
    out = {k: record[k] for k in ("dataset", "key", "epochs", "n_train", "cpu_seconds")}
    out["vocabulary"] = len(enc.vocab)
    out["cache"] = str(encoder_dir(ref["dataset"]) / ref["key"])
    if args.dataset != "caption-folder":
        out["test_class_match"] = round(class_match(args.dataset, args.root, enc), 4)
    print(json.dumps(out), file=sys.stdout)


def class_match(name: str, root, encoder) -> float:
    """Fraction of test items whose caption's phi(t) is nearest to its own class's
    class-only caption ("a <class>") among all classes."""
    from gankit.data import load_dataset
    from gankit.text.captions import CAPTION_SETS
    from gankit.text.embed import embed_captions

    test = load_dataset(name, root=root, split="test")
    words = CAPTION_SETS[name].class_words
    anchors = embed_captions(encoder, [f"a {w}" for w in words], warn=False)
    return float(((test.fields["text"] @ anchors.T).argmax(1) == test.y).float().mean())


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("text-encoder", help="the caption encoder of text-to-image runs")
    inner = p.add_subparsers(dest="text_command", required=True)
    t = inner.add_parser("train", help="train (or find cached) a captioned dataset's encoder")
    t.add_argument("dataset", help="fashion-captions, digits-captions or caption-folder")
    t.add_argument("--root", help="the data folder (caption-folder; Fashion-MNIST's files)")
    t.add_argument("--force", action="store_true", help="retrain even when one is cached")
    t.set_defaults(func=_cmd_train)
