"""``gankit list [--keys]``: presets, variants, datasets, losses, metrics, tricks; config keys."""

from __future__ import annotations

import argparse
import dataclasses


def _cmd_list(args: argparse.Namespace) -> None:
    from gankit.config import Config
    from gankit.data import DATASETS
    from gankit.losses import LOSSES
    from gankit.metrics.classifier import DOMAIN_DATASETS
    from gankit.metrics.evaluate import METRIC_NAMES
    from gankit.networks import NETWORKS
    from gankit.noise import PRIORS
    from gankit.presets import PRESETS
    from gankit.variants import VARIANTS

    if args.keys:
        cfg = Config()
        for section in dataclasses.fields(cfg):
            if not dataclasses.is_dataclass(getattr(cfg, section.name)):
                continue
            for f in dataclasses.fields(getattr(cfg, section.name)):
                value = getattr(getattr(cfg, section.name), f.name)
                print(f"{section.name}.{f.name:<18} {str(f.type):<14} default {value!r}")
        from gankit.config import VARIANT_OPTIONS, option_keys

        for variant in VARIANT_OPTIONS.names():  # per-variant options (train.variant=...)
            for key, tp, default in option_keys(variant):
                print(f"{key:<26} {str(tp):<14} default {default!r}  ({variant})")
        return
    print("presets:")
    for name, p in PRESETS.items():
        print(f"  {name:<20} {p.description}")
    print("variants (and what `gankit apply` does with their runs):")
    for name in VARIANTS.names():
        print(f"  {name:<10} {VARIANTS.get(name).applies or '-'}")
    for title, names in (
        ("datasets", DATASETS.names()),
        ("losses", LOSSES.names()),
        ("networks", NETWORKS.names()),
        ("noise priors", list(PRIORS)),
        ("metrics", list(METRIC_NAMES)),
        ("extractors", ["domain:" + d for d in DOMAIN_DATASETS] + ["inception[:WEIGHTS]", "raw"]),
    ):
        print(f"{title}: {', '.join(names)}")
    from gankit.tricks import TRICKS

    print("tricks (docs/tricks.md):")
    for name, trick in TRICKS.items():
        print(f"  {name:<25} {trick.keys:<40} {trick.reference}")
    print("config keys: `gankit list --keys`")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list presets, variants, datasets, losses, ...")
    p.add_argument("--keys", action="store_true", help="list every config key")
    p.set_defaults(func=_cmd_list)
