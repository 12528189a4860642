"""``gankit explain RUN``: walk a FIGAN run's feature space and draw what its classifier sees.

``--from shirt --to t-shirt`` walks from one class's mean reduced feature to another's,
``--pc I`` along principal component I; the noise is fixed per row. Under each image the
classifier's probability of the target (and source) class; the last column is where the image
changes between the ends of the walk. Hasenstab et al. 2023 (FIGAN), Sec. II-C; the logic is
gankit.applications.figan_walk.
"""

from __future__ import annotations

import argparse


def _cmd_explain(args: argparse.Namespace) -> None:
    from gankit.applications.figan_walk import explain

    result = explain(
        args.run,
        args.out,
        frm=args.source,
        to=args.target,
        pc=args.pc,
        steps=args.steps,
        rows=args.rows,
        seed=args.seed,
        span=args.span,
    )
    curve = result["mean_target_probability"]
    tail = f"; mean target probability {curve[0]:.2f} -> {curve[-1]:.2f}" if curve else ""
    print(f"wrote {result['title']} walk to {result['out']}{tail}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="FIGAN: walk a classifier's feature space, probabilities under images"
    )
    p.add_argument("run", help="a run trained with train.variant=figan (e.g. figan-fashion)")
    p.add_argument("--from", dest="source", help="start class: a name (shirt) or an index")
    p.add_argument("--to", dest="target", help="end class: a name (t-shirt) or an index")
    p.add_argument("--pc", type=int, help="walk along principal component I instead")
    p.add_argument("--span", type=float, default=3.0, help="--pc walks -SPAN..+SPAN sd")
    p.add_argument("--steps", type=int, default=8, help="images along the walk")
    p.add_argument("--rows", type=int, default=4, help="fixed noises, one per row")
    p.add_argument("--seed", type=int, default=0, help="seed of the noises")
    p.add_argument("--out", required=True, help="FILE.png")
    p.set_defaults(func=_cmd_explain)
