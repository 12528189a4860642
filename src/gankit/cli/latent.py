"""``gankit traverse``, ``gankit interpolate`` and ``gankit sample --per-class``: pictures of a
generator's latent space, drawn by :mod:`gankit.latent`.

``traverse RUN --code C --out F.png`` varies one latent code with the others and the noise
fixed (Chen et al. 2016, Figure 2); ``interpolate RUN --out F.png|F.gif`` walks linearly or
along the great circle between two latent points or two labels; ``sample RUN --per-class``
draws one row per class (Mirza & Osindero 2014, Figure 2).
"""

from __future__ import annotations

import argparse

from gankit.errors import RunError
from gankit.latent import interpolate, per_class_grid, save_grid, save_walk, traverse
from gankit.runs import load_generator


def sample_per_class(args: argparse.Namespace) -> None:
    """`gankit sample RUN --per-class`: ``--n`` samples for each class, a row per class."""
    G = load_generator(args.run, ema=not args.no_ema)
    if args.n < 1:
        raise RunError(f"--n must be at least 1, got {args.n}.")
    path = save_grid(per_class_grid(G, args.n, args.seed), args.out)
    print(f"wrote {G.layout.num_classes} classes x {args.n} samples to {path}")


def _cmd_traverse(args: argparse.Namespace) -> None:
    G = load_generator(args.run, ema=not args.no_ema)
    if args.steps < 2 or args.rows < 1:
        raise RunError(f"--steps must be >= 2 and --rows >= 1, got {args.steps}, {args.rows}.")
    grid = traverse(G, args.code, args.steps, args.rows, args.seed, tuple(args.range))
    path = save_grid(grid, args.out)
    kind = G.layout.codes()[args.code][0]
    print(f"wrote {kind} code {args.code} traversal {grid.shape[0]}x{grid.shape[1]} to {path}")


def _cmd_interpolate(args: argparse.Namespace) -> None:
    G = load_generator(args.run, ema=not args.no_ema)
    labels = tuple(args.labels) if args.labels else None
    if args.to_text is not None and args.text is None:
        raise RunError("--to-text needs --text, the caption the walk starts from.")
    texts = [t for t in (args.text, args.to_text) if t is not None]
    phis = tuple(G.embed([t]) for t in texts) if texts else None
    walk = interpolate(G, args.steps, args.rows, args.seed, args.mode, labels, args.label, phis)
    path = save_walk(walk, args.out)
    print(
        f"wrote {args.mode} interpolation ({walk.shape[0]} rows x {walk.shape[1]} steps) to {path}"
    )


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("traverse", help="vary one latent code, the others fixed (InfoGAN Fig. 2)")
    p.add_argument("run")
    p.add_argument(
        "--code",
        type=int,
        required=True,
        help="code number: the label first (conditional runs), then InfoGAN codes",
    )
    p.add_argument("--out", required=True, help="FILE.png (a grid) or FILE.npy")
    p.add_argument("--steps", type=int, default=10, help="values of a continuous code")
    p.add_argument("--rows", type=int, default=8, help="fixed samples, one per row")
    p.add_argument(
        "--range",
        type=float,
        nargs=2,
        default=(-2.0, 2.0),
        metavar=("LO", "HI"),
        help="span of a continuous code (training draws U(-1, 1))",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ema", action="store_true")
    p.set_defaults(func=_cmd_traverse)

    p = sub.add_parser("interpolate", help="walk between two latent points or two labels")
    p.add_argument("run")
    p.add_argument("--out", required=True, help="FILE.png (a row per walk) or FILE.gif")
    p.add_argument("--mode", choices=("linear", "spherical"), default="spherical")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rows", type=int, default=6, help="walks, each from its own pair of points")
    p.add_argument(
        "--labels",
        type=int,
        nargs=2,
        metavar=("A", "B"),
        help="walk from class A to class B with z fixed (conditional runs)",
    )
    p.add_argument("--label", type=int, help="the class kept fixed while z moves")
    p.add_argument("--text", help="text runs: the caption kept fixed while z moves, or the start")
    p.add_argument(
        "--to-text", help="text runs: walk from --text to this caption with z fixed (Reed Fig. 5)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ema", action="store_true")
    p.set_defaults(func=_cmd_interpolate)
