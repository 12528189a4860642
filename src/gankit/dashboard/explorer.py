"""The latent explorer: new samples, interpolations, classes and codes from a run's generator.

Runs on the CPU from the newest checkpoint, loaded with :func:`gankit.runs.load_generator` (no
training code). A generator's ``layout`` says what it takes besides z (a class label, InfoGAN
codes; see :class:`gankit.networks.conditional.LatentLayout`), and codes are numbered as there:
the class label first on conditional runs, then categorical codes, then continuous ones.

Every tile of an image grid is drawn from its own seed (tile i from ``seed + i``), so that any
two tiles can be picked as the ends of an interpolation.

Runs that learn an encoder export ``reconstruct``, x -> G(E(x)) (BiGAN / ALI: Donahue et al.
2016, Sec. 3; Dumoulin et al. 2016): the explorer shows a fixed handful of held-out real items
(the split the run did not train on, the same items every time) beside their
reconstructions, images in two rows, points joined to their reconstruction by a line.
"""

from __future__ import annotations

import io
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from gankit.errors import GankitError

MAX_IMAGES = 64  # tiles per grid: a request must not keep the CPU busy for long
MAX_POINTS = 2000  # points per toy scatter
MAX_STEPS = 16  # interpolation steps
RECONSTRUCT = "reconstruct"  # the export x -> G(E(x))
HELD_OUT_SEED = 0  # which held-out items are shown: fixed, so that pictures can be compared


class ExplorerError(Exception):
    """A request the explorer cannot serve; the message tells the user what to change."""


class Explorer:
    """Caches one generator per run, reloaded when a newer checkpoint appears."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[str, int], Any]] = {}
        self._recon: dict[Path, tuple[tuple[str, int], Any]] = {}  # (model, held-out items)
        self._lock = threading.Lock()  # one generation at a time: 2 cores are shared

    def generator(self, run_path: Path) -> Any:
        from gankit.runs import load_generator

        key = _checkpoint_key(run_path)
        cached = self._cache.get(run_path)
        if cached and cached[0] == key:
            return cached[1]
        try:
            G = load_generator(run_path, device="cpu")
        except GankitError as exc:
            raise ExplorerError(str(exc)) from None
        self._cache[run_path] = (key, G)
        return G

    def info(self, run_path: Path) -> dict[str, Any]:
        """What the page offers: the class list and one control per code."""
        with self._lock:
            G = self.generator(run_path)
            try:
                reconstructs = self.reconstructor(run_path) is not None
            except ExplorerError:
                reconstructs = False
        layout = G.layout
        return {
            "kind": G.kind,
            "reconstruct": reconstructs,
            "step": G.step,
            "z_dim": G.prior.z_dim,
            "num_classes": layout.num_classes or None,
            "text": G.text_conditioned,  # takes a typed caption
            "class_names": list(layout.class_names),
            "codes": [
                {"index": i, "kind": kind, "values": k}
                for i, (kind, k) in enumerate(layout.codes())
                if kind != "label"  # the class has its own control
            ],
        }

    def samples_png(
        self,
        run_path: Path,
        seed: int,
        n: int,
        label: int | None = None,
        codes: dict[int, float] | None = None,
        text: str | None = None,
    ) -> bytes:
        """A grid of ``n`` images (tile i from seed ``seed + i``), or a scatter of ``n`` points."""
        import torch

        with self._lock, torch.no_grad():
            G = self.generator(run_path)
            limit = MAX_IMAGES if G.kind == "image" else MAX_POINTS
            if not 1 <= n <= limit:
                raise ExplorerError(f"n={n}: ask for 1 to {limit} samples")
            fixed = _fixed(G, label, codes)
            if G.kind == "image":
                inputs = _stack([_draw(G, seed + i, fixed) for i in range(n)])
            else:  # one stream is enough for a cloud of points nobody picks one by one
                inputs = _draw(G, seed, fixed, n)
            inputs.update(_caption(G, text, [seed + i for i in range(n)]))
            x = G.generate(**inputs)
            if G.kind == "image":
                return _grid_png(x, ncol=math.ceil(math.sqrt(n)))
            return _scatter_png(x.numpy(), title=f"{n} samples, seed {seed}")

    def interpolate_png(
        self,
        run_path: Path,
        seed_a: int,
        seed_b: int,
        steps: int,
        slerp: bool = True,
        label: int | None = None,
        codes: dict[int, float] | None = None,
        text: str | None = None,
    ) -> bytes:
        """``steps`` samples on the path from the latent point of ``seed_a`` to that of ``seed_b``.

        z moves along the great circle (or a straight line), InfoGAN's code vector c in a
        straight line; the class stays the chosen one, or that of the first end.
        """
        import torch

        from gankit import latent  # the one slerp of the codebase, as `gankit interpolate`

        if not 2 <= steps <= MAX_STEPS:
            raise ExplorerError(f"steps={steps}: ask for 2 to {MAX_STEPS} steps")
        with self._lock, torch.no_grad():
            G = self.generator(run_path)
            fixed = _fixed(G, label, codes)
            a, b = _draw(G, seed_a, fixed), _draw(G, seed_b, fixed)
            t = torch.linspace(0, 1, steps)[:, None]  # (steps, 1)
            inputs = {k: v.expand(steps, *v.shape[1:]) for k, v in a.items()}
            walk = latent.slerp if slerp else latent.lerp
            inputs["z"] = walk(a["z"], b["z"], t)
            if "c" in a:
                inputs["c"] = latent.lerp(a["c"], b["c"], t)
            inputs.update(_caption(G, text, [seed_a] * steps))
            x = G.generate(**inputs)
            if G.kind == "image":
                return _grid_png(x, ncol=steps)
            cloud = G.generate(**_draw(G, 0, fixed, 500))
            return _scatter_png(
                cloud.numpy(), path=x.numpy(), title=f"seed {seed_a} to seed {seed_b}"
            )

    def reconstructor(self, run_path: Path) -> tuple[Any, Any, str] | None:
        """(the run's ``reconstruct`` model, its held-out items, their split), or None when
        the run exports no reconstruction; reloaded when a newer checkpoint appears."""
        from gankit.runs import RunDir, load_model, run_exports

        key = _checkpoint_key(run_path)
        cached = self._recon.get(run_path)
        if cached and cached[0] == key:
            return cached[1]
        try:
            found = None
            if RECONSTRUCT in run_exports(run_path):
                model = load_model(run_path, RECONSTRUCT, device="cpu")
                cfg = RunDir.open(run_path).config()
                x, split = _held_out(cfg, list(model.export.input.get("shape", [])))
                found = (model, x, split)
        except GankitError as exc:
            raise ExplorerError(str(exc)) from None
        self._recon[run_path] = (key, found)
        return found

    def reconstruct_png(self, run_path: Path, n: int) -> bytes:
        """``n`` fixed held-out items beside their reconstructions G(E(x)): images as two
        rows (real above, reconstructed below), points joined to theirs by a line."""
        import torch

        with self._lock, torch.no_grad():
            found = self.reconstructor(run_path)
            if found is None:
                raise ExplorerError(
                    "this run exports no reconstruction (x -> G(E(x))); runs that learn an "
                    "encoder (bigan, ali, ...) do"
                )
            model, x, split = found
            image = model.export.input.get("kind") == "image"
            limit = min(MAX_IMAGES // 2 if image else MAX_POINTS, len(x))
            if not 1 <= n <= limit:
                raise ExplorerError(f"n={n}: ask for 1 to {limit} items")
            real = x[:n]
            recon = model(real)
            if image:
                return _grid_png(torch.cat([real, recon]), ncol=n)
            return _scatter_png(
                real.numpy(),
                title=f"{n} {split} points (black) and G(E(x)) (blue)",
                pairs=recon.numpy(),
            )


def _checkpoint_key(run_path: Path) -> tuple[str, int]:
    """The newest checkpoint's name and time: cached models are reloaded when it changes."""
    from gankit.runs import RunDir

    ckpts = RunDir(run_path).checkpoint_paths()
    if not ckpts:
        raise ExplorerError("this run has no checkpoint yet; wait for the first one")
    return (ckpts[-1].name, ckpts[-1].stat().st_mtime_ns)


def _held_out(cfg: Any, shape: list[int]) -> tuple[Any, str]:
    """Up to MAX_POINTS items of the split the run did not train on (its training split where
    the dataset has no other), in a fixed order, at the size the model takes."""
    import torch

    from gankit.data import load_dataset

    sizes: dict[str, Any] = {}
    if len(shape) == 3:
        sizes = {"channels": int(shape[0]), "image_size": int(shape[1])}
    d = cfg.data
    held = "train" if d.split == "test" else "test"
    try:
        data = load_dataset(d.name, root=d.root, split=held, n_samples=d.n_samples, **sizes)
    except GankitError:  # e.g. a folder of images: no held-out split
        data, held = load_dataset(d.name, root=d.root, split=d.split, **sizes), d.split
    if list(data.shape) != shape:
        raise ExplorerError(
            f"the run's data gives items of shape {list(data.shape)}; its reconstruction "
            f"takes {shape}"
        )
    order = np.random.default_rng(HELD_OUT_SEED).permutation(len(data))[:MAX_POINTS]
    return data.x[torch.as_tensor(order)], held


def _fixed(G: Any, label: int | None, codes: dict[int, float] | None) -> dict[int, float]:
    """The codes to hold fixed, by number; refuses what this generator was not trained with."""
    if label is not None and not G.layout.num_classes:
        raise ExplorerError("this run is not conditional; drop the label parameter")
    try:
        G.layout.check(label, dict(codes or {}), "this run")
    except GankitError as exc:
        raise ExplorerError(str(exc).replace("--label", "the label")) from None
    fixed = dict(codes or {})
    if label is not None:
        fixed[0] = label  # the class label is code 0 of a conditional run
    return fixed


def _caption(G: Any, text: str | None, seeds: list[int]) -> dict[str, Any]:
    """A text-conditioned G's ``text`` input: phi(t) of the typed caption for every sample, or
    without one the training caption ``seed % bank size`` of the run's bank per sample."""
    import torch

    if not G.text_conditioned:
        if text:
            raise ExplorerError("this run is not text-conditioned; drop the caption")
        return {}
    if not text:
        return {"text": G.bank_text(torch.tensor(seeds))}
    try:
        phi = G.embed([text])
    except GankitError as exc:
        raise ExplorerError(str(exc)) from None
    return {"text": phi.expand(len(seeds), -1)}


def _draw(G: Any, seed: int, fixed: dict[int, float], n: int = 1) -> dict[str, Any]:
    """G's inputs (z, and y / c where it takes them) for ``n`` points from one seed."""
    import torch

    return G.layout.draw(n, G.prior, torch.Generator().manual_seed(seed), "cpu", fixed)


def _stack(draws: list[dict[str, Any]]) -> dict[str, Any]:
    import torch

    return {k: torch.cat([d[k] for d in draws]) for k in draws[0]}


def _grid_png(x: Any, ncol: int) -> bytes:
    from gankit import viz
    from gankit.data import from_unit_range

    buf = io.BytesIO()
    viz.image_grid(from_unit_range(x).numpy(), nrow=ncol).save(buf, format="PNG")
    return buf.getvalue()


def _scatter_png(
    points: np.ndarray,
    title: str,
    path: np.ndarray | None = None,
    pairs: np.ndarray | None = None,  # one point per point of ``points``, joined to it
) -> bytes:
    # The object-oriented matplotlib API: pyplot's global state is not safe across threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = 1 if points.shape[1] > 1 else 0
    colour = "lightgray" if path is not None else "black" if pairs is not None else "red"
    ax.scatter(points[:, 0], points[:, ys], s=3, c=colour, alpha=0.6)
    if pairs is not None:
        for a, b in zip(points[:60], pairs[:60]):  # a few joins: more would hide the points
            ax.plot([a[0], b[0]], [a[ys], b[ys]], "-", c="tab:blue", lw=0.5, alpha=0.6)
        ax.scatter(pairs[:, 0], pairs[:, ys], s=3, c="tab:blue", alpha=0.6)
    if path is not None:
        ax.plot(path[:, 0], path[:, ys], "-", c="black", lw=0.8)
        ax.scatter(path[:, 0], path[:, ys], s=18, c=np.linspace(0, 1, len(path)), cmap="viridis")
    ax.set(title=title, aspect="equal")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
