"""Metrics of conditional and structured-latent generators (CGAN, AC-GAN, InfoGAN).

* Requested-class accuracy: how often a domain classifier recognises the class y that
  G(z | y) was asked for (the "classification accuracy" of generated samples used for
  class-conditional models, e.g. Odena et al. 2017, Sec. 4.1, with Inception; here with a
  classifier of the domain).
* Intra-class FID: the FID of each class's samples against the same class of real data,
  averaged over classes (Miyato & Koyama 2018, Sec. 5, "intra-FID").
* Per-class coverage: the coverage of Naeem et al. 2020 within each class.
* Matched accuracy: the accuracy of an unsupervised categorical code against the true classes
  under the best one-to-one matching of code values to classes (the "unsupervised clustering
  accuracy" of Xie et al. 2016, Eq. 10), found with the Hungarian algorithm (Kuhn 1955,
  scipy's linear_sum_assignment). InfoGAN's Q head classifies real images this way
  (Chen et al. 2016, Sec. 7.1: 5% error on MNIST).

Functions take arrays, or a generator plus a feature extractor, i.e. any callable mapping
images to an object with ``features`` (N, D) and ``probs`` (N, K) (the
:class:`gankit.metrics.extractors.Features` of a domain classifier, or a tiny test model).
This module never imports ``gankit.training``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from gankit.errors import DataError, RunError
from gankit.metrics._arrays import as_matrix64, as_numpy64
from gankit.metrics.fid import feature_statistics, frechet_distance
from gankit.metrics.prdc import density_coverage
from gankit.metrics.registry import (
    CLASSIFIER,
    FEATURES,
    LABELS,
    MetricInputs,
    register_metric,
)


def _labels(labels: Any, name: str) -> np.ndarray:
    arr = as_numpy64(labels, name).reshape(-1)
    if arr.size == 0 or np.any(arr != np.round(arr)) or arr.min() < 0:
        raise DataError(f"{name} must be a non-empty array of class indices >= 0")
    return arr.astype(np.int64)


def requested_class_accuracy(predicted: Any, requested: Any) -> dict[str, Any]:
    """Fraction of samples whose predicted class equals the requested one, overall and per
    requested class (``per_class[k]`` is NaN for a class that was never requested).

    ``predicted`` is (N,) class indices or (N, K) probabilities / logits (argmax is taken).
    """
    pred = as_numpy64(predicted, "predicted")
    pred = pred.argmax(1) if pred.ndim == 2 else pred
    pred, req = _labels(pred, "predicted"), _labels(requested, "requested")
    if len(pred) != len(req):
        raise DataError(f"{len(pred)} predictions for {len(req)} requested labels")
    hit = pred == req
    per_class = [
        float(hit[req == k].mean()) if np.any(req == k) else math.nan
        for k in range(int(req.max()) + 1)
    ]
    return {"accuracy": float(hit.mean()), "per_class": per_class}


def _per_class(real, real_y, fake, fake_y, score: Callable) -> list[float]:
    r, f = as_matrix64(real, "real features"), as_matrix64(fake, "fake features")
    ry, fy = _labels(real_y, "real labels"), _labels(fake_y, "fake labels")
    if len(ry) != len(r) or len(fy) != len(f):
        raise DataError("each feature row needs one label")
    out = []
    for k in np.unique(fy):
        if np.sum(ry == k) < 2 or np.sum(fy == k) < 2:
            raise DataError(f"class {k} needs at least 2 real and 2 generated samples")
        out.append(score(r[ry == k], f[fy == k]))
    return out


def intra_class_fid(real_features, real_labels, fake_features, fake_labels) -> dict[str, Any]:
    """FID of each generated class against the same real class, and their mean (intra-FID,
    Miyato & Koyama 2018). Classes are those present among ``fake_labels``."""

    def fid(r: np.ndarray, f: np.ndarray) -> float:
        return frechet_distance(*feature_statistics(r), *feature_statistics(f))

    per = _per_class(real_features, real_labels, fake_features, fake_labels, fid)
    return {"intra_fid": float(np.mean(per)), "per_class": per}


def per_class_coverage(
    real_features, real_labels, fake_features, fake_labels, *, k: int = 5
) -> dict[str, Any]:
    """Coverage (Naeem et al. 2020, k nearest neighbours) within each class, and the mean:
    the fraction of real items of class y near some sample generated for y."""

    def cov(r: np.ndarray, f: np.ndarray) -> float:
        return density_coverage(r, f, k=min(k, len(r) - 1))["coverage"]

    per = _per_class(real_features, real_labels, fake_features, fake_labels, cov)
    return {"coverage": float(np.mean(per)), "per_class": per}


def matched_accuracy(codes: Any, labels: Any) -> dict[str, Any]:
    """Accuracy of code values against true labels under the best one-to-one matching.

    Counts C[code, label]; the Hungarian algorithm picks the assignment maximising the matched
    count (Kuhn 1955); accuracy = matched / N. Returns ``accuracy`` and ``mapping``
    (code value -> class, for every matched code value).
    """
    c, y = _labels(codes, "codes"), _labels(labels, "labels")
    if len(c) != len(y):
        raise DataError(f"{len(c)} codes for {len(y)} labels")
    counts = np.zeros((c.max() + 1, y.max() + 1), dtype=np.int64)
    np.add.at(counts, (c, y), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {
        "accuracy": float(counts[rows, cols].sum() / len(c)),
        "mapping": {int(r): int(k) for r, k in zip(rows, cols)},
    }


# --- registered: computed from labelled inputs, not by `gankit eval` ---------------------------
def _ref_labels(inputs: MetricInputs, name: str) -> Any:
    if inputs.ref_labels is None:
        raise DataError(f"{name} needs the true class of each reference item (ref_labels)")
    return inputs.ref_labels


@register_metric(
    "intra_fid",
    needs={FEATURES, LABELS},
    higher_is_better=False,
    description="FID of each generated class against the same real class, averaged "
    "(Miyato & Koyama, ICLR 2018)",
    keys=("intra_fid", "intra_fid_per_class"),
    function=intra_class_fid,
)
def _score_intra_fid(inputs: MetricInputs) -> dict[str, Any]:
    real_y = _ref_labels(inputs, "intra_fid")
    r = intra_class_fid(inputs.ref_features, real_y, inputs.features, inputs.labels)
    return {"intra_fid": r["intra_fid"], "intra_fid_per_class": r["per_class"]}


@register_metric(
    "per_class_coverage",
    needs={FEATURES, LABELS},
    higher_is_better=True,
    description="coverage within each class, averaged (Naeem et al., ICML 2020, per class)",
    keys=("per_class_coverage", "coverage_per_class"),
    function=per_class_coverage,
)
def _score_class_cov(inputs: MetricInputs) -> dict[str, Any]:
    real_y = _ref_labels(inputs, "per_class_coverage")
    r = per_class_coverage(inputs.ref_features, real_y, inputs.features, inputs.labels)
    return {"per_class_coverage": r["coverage"], "coverage_per_class": r["per_class"]}


@register_metric(
    "requested_class_accuracy",
    needs={CLASSIFIER, LABELS},
    higher_is_better=True,
    description="how often a classifier recognises the class G(z | y) was asked for "
    "(Odena et al., ICML 2017, Sec. 4.1)",
    keys=("requested_class_accuracy", "requested_class_accuracy_per_class"),
    function=requested_class_accuracy,
)
def _score_requested(inputs: MetricInputs) -> dict[str, Any]:
    r = requested_class_accuracy(inputs.probs, inputs.labels)
    return {
        "requested_class_accuracy": r["accuracy"],
        "requested_class_accuracy_per_class": r["per_class"],
    }


@register_metric(
    "matched_accuracy",
    needs={CLASSIFIER, LABELS},
    higher_is_better=True,
    description="accuracy of a categorical code against classes under the best one-to-one "
    "matching (Xie et al. 2016, Eq. 10; InfoGAN, Chen et al. 2016)",
    keys=("matched_accuracy", "matched_mapping"),
    function=matched_accuracy,
)
def _score_matched(inputs: MetricInputs) -> dict[str, Any]:
    predicted = as_numpy64(inputs.probs, "probs").argmax(1)
    r = matched_accuracy(inputs.labels, predicted)
    return {"matched_accuracy": r["accuracy"], "matched_mapping": r["mapping"]}


# --- generators and runs ------------------------------------------------------------------------
def evaluate_conditional(
    G: Any,
    extractor: Callable[[torch.Tensor], Any],
    real_x: Any = None,
    real_y: Any = None,
    *,
    n_per_class: int = 500,
    seed: int = 0,
    k: int = 5,
) -> dict[str, Any]:
    """Score a conditional generator (:class:`gankit.runs.Generator`) class by class.

    Draws ``n_per_class`` samples for each label and returns the requested-class accuracy;
    with real images ``real_x`` and labels ``real_y`` also intra-class FID and per-class
    coverage in the extractor's feature space.
    """
    K = G.layout.num_classes
    if not K:
        raise RunError(f"{G.source} is not a conditional run; class metrics need G(z | y).")
    fake = torch.cat([G.sample(n_per_class, seed=seed + y, label=y) for y in range(K)])
    fake_y = torch.arange(K).repeat_interleave(n_per_class)
    out_f = extractor(fake)
    if out_f.probs is None:
        raise DataError("the requested-class accuracy needs a classifier extractor (probs)")
    result = {"requested_class_accuracy": requested_class_accuracy(out_f.probs, fake_y)}
    if real_x is not None:
        real_f = extractor(real_x).features
        result["intra_fid"] = intra_class_fid(real_f, real_y, out_f.features, fake_y)
        result["per_class_coverage"] = per_class_coverage(
            real_f, real_y, out_f.features, fake_y, k=k
        )
    return result


@torch.no_grad()
def infogan_code_predictions(
    run_dir: str | os.PathLike, x: torch.Tensor, code: int = 0, batch_size: int = 500
) -> np.ndarray:
    """InfoGAN's Q head on images ``x`` (N, C, H, W) in [-1, 1]: argmax of categorical code
    ``code`` for each image, read from the run's newest checkpoint without training code."""
    from gankit.networks.conditional import LatentLayout
    from gankit.runs import load_model, run_exports

    exports = run_exports(run_dir)
    if "codes" not in exports or not exports["sample"].layout:
        raise RunError(f"{run_dir} is not an InfoGAN run (no latent codes in its checkpoint).")
    layout = LatentLayout.from_meta(exports["sample"].layout)
    if not 0 <= code < len(layout.categorical):
        raise RunError(f"{run_dir} has {len(layout.categorical)} categorical code(s); no {code}.")
    Q = load_model(run_dir, export="codes")  # Q(c | x): the second output of D's one pass
    start = sum(layout.categorical[:code])  # Q's outputs: categorical blocks, then means
    preds = []
    for s in range(0, len(x), batch_size):
        q = Q(x[s : s + batch_size], batch_size=batch_size)
        preds.append(q[:, start : start + layout.categorical[code]].argmax(1))
    return torch.cat(preds).numpy()


def code_class_accuracy(
    G: Any,
    extractor: Callable[[torch.Tensor], Any],
    *,
    code: int = 0,
    n_per_value: int = 500,
    seed: int = 0,
) -> dict[str, Any]:
    """Matched accuracy of a categorical code against a classifier's view of G's samples:
    ``n_per_value`` samples for each value of ``code`` (numbered as in ``gankit traverse``),
    classified by ``extractor``, then matched one-to-one to classes."""
    codes = G.layout.codes()
    if not 0 <= code < len(codes) or codes[code][1] is None:
        raise RunError(
            f"code {code} of {G.source} is not categorical; its codes: {G.layout.describe_codes()}."
        )
    values = range(codes[code][1])
    fake = torch.cat([G.sample(n_per_value, seed=seed, codes={code: v}) for v in values])
    probs = extractor(fake).probs
    if probs is None:
        raise DataError("matching a code to classes needs a classifier extractor (probs)")
    return matched_accuracy(
        torch.arange(len(values)).repeat_interleave(n_per_value), probs.argmax(1)
    )
