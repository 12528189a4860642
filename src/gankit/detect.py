"""The discriminator as a fake detector (`gankit probe RUN --detect SOURCE`).

A GAN's D is trained to tell real images from generated ones (Goodfellow et al. 2014, Eq. 1:
max_D E_x[log D(x)] + E_z[log(1 - D(G(z)))]); lecture 004 ("Other potential applications")
claims that "once the training is complete, the Discriminator can be used to detect
fake/photoshopped images". At the game's optimum D cannot (D*_G = 1/2 when p_g = p_data,
Prop. 1 and Theorem 1), so how well it does measures how far from the optimum the pair is.

Protocol: N held-out real images (the test split of the run's dataset, N drawn without
replacement with ``seed``) and N images from SOURCE's sampler (the run itself, ``self``, or
another run directory; drawn with ``seed``, rounded to 8 bits like every written sample so
that no quantisation cue separates them). Reported:

* ``discriminator``: the ROC AUC of D's logit (real = positive class) over all 2N images,
  and the accuracy of D's own decision (logit > 0 means real);
* ``linear_probe``: a logistic regression on D's features (the run's ``features`` export:
  each conv layer max-pooled to 4 x 4, Radford et al. 2015 Sec. 5.1), fitted on one half of
  the 2N images (stratified, seeded) and scored on the other by AUC and accuracy; beside it
  the same regression on raw pixels, the baseline any feature has to beat. D's own AUC on
  that same held-out half is reported too, for a like-for-like comparison.

D is run in eval mode (BatchNorm with its running statistics), as every exported model is.
The run directory is read through :mod:`gankit.runs`; nothing here imports the training code.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from gankit.data import load_dataset
from gankit.data.images import from_unit_range, to_unit_range
from gankit.errors import ConfigError, DataError, RunError
from gankit.exports import describe as describe_exports
from gankit.runs import RunDir, load_generator, load_model, run_exports

DISCRIMINATOR_EXPORT = "discriminator"  # a map export: image -> one logit per image
FEATURES_EXPORT = "features"  # D's conv features (see gankit.probe)
SELF = "self"  # SOURCE meaning the run's own sampler
DEFAULT_N = 2000  # real and fake images each, or the whole held-out split where it is smaller
PROBE_C = 1.0  # inverse L2 strength of the logistic regression on standardised features


def _held_out_split(train_split: str) -> str:
    """The split the run did not train on."""
    return "train" if train_split == "test" else "test"


def _real_images(
    name: str, root: str | None, split: str, shape: list[int], n: int | None, seed: int
) -> torch.Tensor:
    """``n`` images of ``split`` of dataset ``name`` at the size D takes, drawn with ``seed``
    (None: DEFAULT_N or the whole split where it is smaller)."""
    sizes: dict[str, Any] = {}
    if len(shape) == 3:
        sizes = {"channels": int(shape[0]), "image_size": int(shape[1])}
    data = load_dataset(name, root=root, split=split, **sizes)
    if list(data.shape) != list(shape):
        raise DataError(
            f"dataset {name!r} gives items of shape {list(data.shape)}; the discriminator "
            f"takes {shape}. Detect on the kind of data the run was trained on."
        )
    if n is None:
        n = min(DEFAULT_N, len(data))
    if n > len(data):
        raise DataError(
            f"--n {n} is more than the {split} split of {name!r} holds ({len(data)}); "
            f"use --n {len(data)} or fewer."
        )
    pick = np.random.default_rng(seed).choice(len(data), n, replace=False)
    return data.x[torch.as_tensor(np.sort(pick))]


def _fake_images(
    source: str, run: str | os.PathLike, shape: list[int], n: int, seed: int, ema: bool
) -> torch.Tensor:
    """``n`` samples of SOURCE's sampler (seeded), rounded to 8 bits as written samples are."""
    where = run if source == SELF else source
    if source != SELF and not os.path.isdir(source):
        raise ConfigError(
            f"--detect {source}: give 'self' (the run's own generator) or a run directory."
        )
    try:
        G = load_generator(where, ema=ema)
    except RunError as exc:
        raise RunError(f"--detect {source}: {exc}") from None
    made = list(G.sample(1, seed=seed).shape[1:])
    if made != list(shape):
        raise DataError(
            f"--detect {source}: its generator makes items of shape {made}; {run}'s "
            f"discriminator takes {list(shape)}. Detect samples of the same size and channels."
        )
    x = G.sample(n, seed=seed)
    if G.kind == "image":
        x = to_unit_range(from_unit_range(x))
    return x


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def _logistic(
    f_fit: np.ndarray, y_fit: np.ndarray, f_test: np.ndarray, y_test: np.ndarray, seed: int
) -> dict[str, float]:
    """A logistic regression fitted on (f_fit, y_fit), scored on the test half."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(  # standardised on the fitted half only
        StandardScaler(), LogisticRegression(C=PROBE_C, max_iter=2000, random_state=seed)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(f_fit, y_fit)
    score = model.decision_function(f_test)
    return {
        "dim": int(f_fit.shape[1]),
        "auc": _auc(y_test, score),
        "accuracy": float(((score > 0) == y_test).mean()),
    }


def _halves(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified, seeded split of the indices into a fitted half and a scored half."""
    rng = np.random.default_rng(seed + 1)
    fit, test = [], []
    for c in (0, 1):
        rows = rng.permutation(np.flatnonzero(y == c))
        fit.append(rows[: len(rows) // 2])
        test.append(rows[len(rows) // 2 :])
    return np.concatenate(fit), np.concatenate(test)


def detect(
    run: str | os.PathLike,
    source: str = SELF,
    n: int | None = None,
    seed: int = 0,
    ema: bool = True,
    data: str | None = None,
    data_root: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`gankit probe RUN --detect SOURCE`: how well ``run``'s D (and a linear probe on its
    features) separates held-out real images from SOURCE's samples. One JSON-serialisable
    dict; see the module docstring for the protocol."""
    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    if n is not None and n < 2:
        raise ConfigError(f"--n must be at least 2 (one per half of the probe), got {n}")
    cfg = RunDir.open(run).config()
    exports = run_exports(run)
    d_export = exports.get(DISCRIMINATOR_EXPORT)
    if d_export is None or d_export.kind != "map":
        raise RunError(
            f"{run} has no discriminator export to detect fakes with (dcgan runs trained "
            f"without tricks.pack have one); it offers: {describe_exports(exports)}."
        )
    shape = list(d_export.input.get("shape", []))
    D = load_model(run, DISCRIMINATOR_EXPORT)
    features = load_model(run, FEATURES_EXPORT) if FEATURES_EXPORT in exports else None
    if data is None:
        data, data_root = cfg.data.name, data_root if data_root is not None else cfg.data.root
    split = _held_out_split(cfg.data.split)
    real = _real_images(data, data_root, split, shape, n, seed)  # a bad --n before sampling
    n = len(real)
    fake = _fake_images(source, run, shape, n, seed, ema)
    say(f"detecting with {run}'s D: {n} real ({data}, {split}) vs {n} from {source}")
    x = torch.cat([real, fake])
    y = np.concatenate([np.ones(n, np.int64), np.zeros(n, np.int64)])  # real is positive
    try:
        logits = D(x).reshape(len(x), -1)[:, 0].numpy().astype(np.float64)
        feats = features(x).flatten(1).numpy().astype(np.float64) if features else None
    except (RuntimeError, ValueError) as exc:  # a network that does not take these items
        raise RunError(f"{run}: the discriminator failed ({' '.join(str(exc).split())})") from None
    if not np.isfinite(logits).all():
        raise RunError(f"{run}'s discriminator gives non-finite logits; the run diverged.")
    fit, test = _halves(y, seed)
    probes: dict[str, Any] = {}
    if feats is not None:
        say(f"linear probe on D's features ({feats.shape[1]} dims)")
        probes["D features"] = _logistic(feats[fit], y[fit], feats[test], y[test], seed)
    pixels = x.flatten(1).numpy().astype(np.float64)
    say(f"linear probe on raw pixels ({pixels.shape[1]} dims)")
    probes["raw pixels"] = _logistic(pixels[fit], y[fit], pixels[test], y[test], seed)
    return {
        "run": str(run),
        "source": str(source),
        "source_ema": bool(ema),
        "data": data,
        "split": split,
        "n": n,
        "seed": seed,
        "discriminator": {
            "auc": _auc(y, logits),
            "accuracy": float(((logits > 0) == y).mean()),
            "auc_scored_half": _auc(y[test], logits[test]),
            "real_logit_mean": float(logits[:n].mean()),
            "fake_logit_mean": float(logits[n:].mean()),
        },
        "linear_probe": probes,
        "probe_fit_n": int(len(fit)),
        "probe_scored_n": int(len(test)),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def table(report: dict[str, Any]) -> str:
    """The results as a small text table."""
    d = report["discriminator"]
    lines = [
        f"real ({report['data']} {report['split']}) vs fake ({report['source']}), "
        f"n={report['n']} each",
        f"{'detector':<22} {'dim':>6}  {'AUC':>6}  {'accuracy':>8}",
        f"{'D logit (all)':<22} {1:>6}  {d['auc']:.4f}  {d['accuracy']:>8.4f}",
        f"{'D logit (scored half)':<22} {1:>6}  {d['auc_scored_half']:.4f}  {'':>8}",
    ]
    for name, r in report["linear_probe"].items():
        label = f"LR on {name}"
        lines.append(f"{label:<22} {r['dim']:>6}  {r['auc']:.4f}  {r['accuracy']:>8.4f}")
    return "\n".join(lines)


__all__ = ["DISCRIMINATOR_EXPORT", "detect", "table"]
