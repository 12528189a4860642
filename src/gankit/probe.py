"""The linear probe of a run's representation (Radford et al. 2015, "Unsupervised
Representation Learning with Deep Convolutional GANs", Sec. 5.1).

Features of images come from a trained run: its discriminator (each conv layer's
activations max-pooled to 4 x 4 and concatenated, the paper's recipe; the run's ``features``
export) or its encoder: the ``encoder_features`` export where the run has one (the same
recipe on the encoder's conv blocks, then the code: BiGAN / ALI on images), else a ``map``
export whose output is latent ``codes`` (BiGAN's E on vectors); source ``codes`` reads that
code alone, also where the run has pooled features.
A linear L2-SVM (scikit-learn's LinearSVC: squared hinge loss, L2 penalty) is trained on N
labelled examples per class drawn at random from the training split, R times with one seed;
the regularisation C is chosen on a validation part carved from those N per class (so the
label budget is N per class in all), then the SVM is refit on all N and scored on the whole
test split. Reported: the mean test accuracy over the R draws and 1.96 times its standard
deviation (sample std, ddof=1).

Every probe runs the honest baselines on the very same draws: raw pixels, and the same
network with random initial weights (built from the run's spec with a fixed seed, no
trained weights loaded). A representation is only worth something by its margin over them.

The run directory is read through :mod:`gankit.runs`; nothing here imports the training
code.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gankit.data import Dataset, load_dataset
from gankit.errors import ConfigError, DataError, RunError
from gankit.exports import Export
from gankit.exports import describe as describe_exports
from gankit.networks import NETWORKS
from gankit.nn.modes import evaluating
from gankit.runs import RunDir, load_model, load_network, run_exports, run_networks

SOURCES = ("features", "encoder", "codes")
FEATURES_EXPORT = "features"  # the export a variant declares for its discriminator's features
# an encoder's pooled conv features (the Sec. 5.1 recipe on E, then the code): BiGAN / ALI /
# VAE-style variants on images declare it; preferred over the codes alone
ENCODER_FEATURES_EXPORT = "encoder_features"
ENCODER_EXPORT = "apply"  # an encoder's usual export name (any map export to codes is taken)
C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # LinearSVC's C, chosen on the validation part
VALIDATION_FRACTION = 0.2  # of the N labelled examples per class, at least one
BATCH = 500  # images per forward pass when computing features

Features = Callable[[torch.Tensor], torch.Tensor]  # (N, *item) -> (N, F)


@dataclass
class Extractor:
    """What a probe reads features with: the trained network and its random-weight twin."""

    trained: Features
    random: Features
    item_shape: list[int]  # what the network takes: (C, H, W) or (D,)
    what: str  # for messages and the JSON: the export or network it comes from


def _batched(fn: Features, net: torch.nn.Module) -> Features:
    @torch.no_grad()
    def run(x: torch.Tensor) -> torch.Tensor:
        with evaluating(net):
            return torch.cat([fn(c).float().cpu() for c in x.split(BATCH)]) if len(x) else x

    return run


def _with_probe_features(run: str | os.PathLike) -> list[str]:
    """Discriminators of the run whose class computes probe features (runs trained before
    the ``features`` export existed still have a DCGAN discriminator). An encoder (a network
    a map export to codes, or ``encoder_features``, offers) has probe features too: skipped."""
    exports = run_exports(run)
    encoders = [e for n, e in exports.items() if n == ENCODER_FEATURES_EXPORT or _gives_codes(e)]
    offered = {key for e in encoders for key in e.networks}
    found = []
    for key, name in run_networks(run).items():
        if key in offered or name not in NETWORKS:
            continue
        if callable(getattr(NETWORKS.get(name), "probe_features", None)):
            found.append(key)
    return found


def run_extractor(run: str | os.PathLike, source: str = "features", seed: int = 0) -> Extractor:
    """The features a probe reads from ``run``: ``features`` (its discriminator, Sec. 5.1),
    ``encoder`` (its ``encoder_features`` export where it has one, else a map export to latent
    codes) or ``codes`` (that map export to latent codes alone, the encoder's output); the
    random-weight baseline is the same export with weights drawn from ``seed``."""
    if source not in SOURCES:
        raise ConfigError(f"unknown probe source {source!r}; use one of {', '.join(SOURCES)}")
    exports = run_exports(run)
    name: str | None = None
    if source == "features":
        if FEATURES_EXPORT in exports and exports[FEATURES_EXPORT].kind == "map":
            name = FEATURES_EXPORT
        else:
            keys = _with_probe_features(run)
            if len(keys) == 1:  # an older run: the one network that has the features
                ckpt_meta = RunDir.open(run).load_checkpoint().meta
                trained = load_network(run, keys[0])
                random = load_network(run, keys[0], init_seed=seed)
                return Extractor(
                    _batched(trained.probe_features, trained),
                    _batched(random.probe_features, random),
                    list(ckpt_meta.get("data_shape", [])),
                    f"network {keys[0]}",
                )
            raise RunError(
                f"{run} has no discriminator features to probe (dcgan runs have them); "
                f"it offers: {describe_exports(exports)}. Try --source encoder."
            )
    else:
        codes = [n for n, e in exports.items() if e.kind == "map" and _gives_codes(e)]
        pooled = exports.get(ENCODER_FEATURES_EXPORT)
        if source == "encoder" and pooled is not None and pooled.kind == "map":
            name = ENCODER_FEATURES_EXPORT
        elif ENCODER_EXPORT in codes:
            name = ENCODER_EXPORT
        elif codes:
            name = codes[0]
        else:
            raise RunError(
                f"{run} has no encoder (a model from data to latent codes); it offers: "
                f"{describe_exports(exports)}. Try --source features for a dcgan run."
            )
    trained_model = load_model(run, name)
    random_model = load_model(run, name, init_seed=seed)
    return Extractor(
        trained_model,
        random_model,
        list(exports[name].input.get("shape", [])),
        f"export {name}",
    )


def _gives_codes(e: Export) -> bool:
    return e.output.get("kind") == "codes" and e.input.get("kind") in ("image", "vector")


def _labelled(data: Dataset, split: str) -> Dataset:
    if data.y is None:
        raise DataError(f"dataset {data.name!r} ({split} split) has no class labels to probe with")
    return data


def load_probe_data(
    name: str, item_shape: list[int], root: str | os.PathLike | None = None
) -> tuple[Dataset, Dataset]:
    """The train and test splits of dataset ``name``, images at the size and channel count
    the run's network takes (``item_shape``)."""
    sizes: dict[str, Any] = {}
    if len(item_shape) == 3:
        sizes = {"channels": int(item_shape[0]), "image_size": int(item_shape[1])}
    train = _labelled(load_dataset(name, root=root, split="train", **sizes), "train")
    test = _labelled(load_dataset(name, root=root, split="test", **sizes), "test")
    if list(train.shape) != list(item_shape):
        raise DataError(
            f"dataset {name!r} gives items of shape {list(train.shape)}; the run's network "
            f"takes {item_shape}. Probe with the kind of data the run was trained on."
        )
    return train, test


def draw_labelled(
    y: np.ndarray, per_class: int, draws: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``draws`` draws of ``per_class`` training indices per class, each split into
    (fit, validation): the validation part is ``VALIDATION_FRACTION`` of each class's
    draw (at least one). Seeded: the same arguments give the same draws."""
    classes, counts = np.unique(y, return_counts=True)
    if per_class < 2:
        raise ConfigError(
            f"--per-class must be at least 2 (one example to fit and one to validate C), "
            f"got {per_class}"
        )
    if per_class > counts.min():
        k = int(classes[counts.argmin()])
        raise DataError(
            f"--per-class {per_class} is more than the training split has of class {k} "
            f"({int(counts.min())}); use --per-class {int(counts.min())} or fewer"
        )
    if draws < 1:
        raise ConfigError(f"--draws must be at least 1, got {draws}")
    n_val = max(1, round(VALIDATION_FRACTION * per_class))
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(y == c) for c in classes]
    out = []
    for _ in range(draws):
        picks = [rng.choice(m, per_class, replace=False) for m in members]
        fit = np.concatenate([p[n_val:] for p in picks])
        val = np.concatenate([p[:n_val] for p in picks])
        out.append((fit, val))
    return out


def _svm_accuracy(
    train_f: np.ndarray,
    train_y: np.ndarray,
    test_f: np.ndarray,
    test_y: np.ndarray,
    C: float,
    seed: int,
) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    # features standardised on the fitted rows only: nothing is learned from the test split
    model = make_pipeline(
        StandardScaler(),
        LinearSVC(C=C, penalty="l2", loss="squared_hinge", max_iter=5000, random_state=seed),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train_f, train_y)
    return float((model.predict(test_f) == test_y).mean())


def linear_probe(
    features: dict[str, Features],
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    per_class: int = 100,
    draws: int = 10,
    seed: int = 0,
    c_grid: tuple[float, ...] = C_GRID,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The protocol on arrays: {source name: {dim, mean, ci95, std, accuracies, C}}.

    ``features`` maps a name to a function of images (or vectors) -> (N, F) features;
    ``train`` and ``test`` are (x, y). Every source sees the same draws.
    """
    say = progress or (lambda _msg: None)
    train_x, train_y = train[0], np.asarray(train[1])
    test_x, test_y = test[0], np.asarray(test[1])
    picked = draw_labelled(train_y, per_class, draws, seed)
    used = np.unique(np.concatenate([np.concatenate(d) for d in picked]))
    where = {int(i): j for j, i in enumerate(used)}  # training index -> row of used features
    results: dict[str, Any] = {}
    for name, fn in features.items():
        t0 = time.perf_counter()
        say(f"{name}: features of {len(used)} training and {len(test_x)} test items")
        train_f = fn(train_x[torch.as_tensor(used)]).flatten(1).numpy().astype(np.float64)
        test_f = fn(test_x).flatten(1).numpy().astype(np.float64)
        accs, chosen = [], []
        for r, (fit, val) in enumerate(picked):
            rows_fit = [where[int(i)] for i in fit]
            rows_val = [where[int(i)] for i in val]
            scores = [
                _svm_accuracy(
                    train_f[rows_fit], train_y[fit], train_f[rows_val], train_y[val], C, seed
                )
                for C in c_grid
            ]
            C = c_grid[int(np.argmax(scores))]  # ties: the smallest C (strongest penalty)
            rows = rows_fit + rows_val
            y_all = np.concatenate([train_y[fit], train_y[val]])
            accs.append(_svm_accuracy(train_f[rows], y_all, test_f, test_y, C, seed))
            chosen.append(C)
            say(f"{name}: draw {r + 1}/{len(picked)} C={C:g} test accuracy {accs[-1]:.4f}")
        std = float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
        results[name] = {
            "dim": int(train_f.shape[1]),
            "mean": float(np.mean(accs)),
            "ci95": 1.96 * std,
            "std": std,
            "accuracies": accs,
            "C": chosen,
            "seconds": round(time.perf_counter() - t0, 2),
        }
    return results


def _pixels(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


def probe(
    run: str | os.PathLike,
    data: str | None = None,
    data_root: str | os.PathLike | None = None,
    per_class: int = 100,
    draws: int = 10,
    seed: int = 0,
    source: str = "features",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`gankit probe`: the linear probe of ``run``'s features beside raw pixels and the same
    network with random weights, on ``data`` (default: the dataset the run was trained on).
    One JSON-serialisable dict; see the module docstring for the protocol."""
    t0 = time.perf_counter()
    rundir = RunDir.open(run)
    cfg = rundir.config()
    extractor = run_extractor(run, source, seed)
    if data is None:
        data, data_root = cfg.data.name, data_root if data_root is not None else cfg.data.root
    train, test = load_probe_data(data, extractor.item_shape, data_root)
    draw_labelled(train.y.numpy(), per_class, draws, seed)  # bad counts: one line, no progress
    if progress:
        progress(
            f"probing {run} ({extractor.what}) on {data}: {len(train)} train, {len(test)} test"
        )
    try:
        results = linear_probe(
            {"trained": extractor.trained, "random init": extractor.random, "raw pixels": _pixels},
            (train.x, train.y.numpy()),
            (test.x, test.y.numpy()),
            per_class=per_class,
            draws=draws,
            seed=seed,
            progress=progress,
        )
    except (RuntimeError, ValueError) as exc:  # a network that does not take these items
        raise RunError(
            f"{run}: the probe failed on {data} ({' '.join(str(exc).split())})"
        ) from None
    return {
        "run": str(run),
        "source": source,
        "model": extractor.what,  # "export NAME" (or "network KEY" for an older dcgan run)
        "data": data,
        "train_n": len(train),
        "test_n": len(test),
        "classes": int(len(np.unique(train.y.numpy()))),
        "per_class": per_class,
        "validation_per_class": max(1, round(VALIDATION_FRACTION * per_class)),
        "draws": draws,
        "seed": seed,
        "c_grid": list(C_GRID),
        "results": results,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def table(report: dict[str, Any]) -> str:
    """The results as a small text table."""
    head = f"{'features':<12} {'dim':>6}  test accuracy (mean ± 1.96σ, {report['draws']} draws)"
    lines = [f"trained and random init: {report['model']} of {report['run']}", head]
    for name, r in report["results"].items():
        lines.append(f"{name:<12} {r['dim']:>6}  {r['mean']:.4f} ± {r['ci95']:.4f}")
    return "\n".join(lines)
