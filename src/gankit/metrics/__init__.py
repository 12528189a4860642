"""Evaluation metrics, each registered with what it needs.

Every metric module registers a :class:`~gankit.metrics.registry.MetricSpec` (name, needs,
direction, one-line description with its paper, the function computing it) in
:data:`METRIC_REGISTRY`; ``gankit eval`` / :class:`~gankit.metrics.evaluate.Evaluator` and
:func:`score_pairs` dispatch through it, and :func:`metric_rows` lists it. Feature extraction
(Inception or any other network) lives in ``extractors``; the functions here take features,
class probabilities, images or masks. By design this package never imports
``gankit.training``. See docs/metrics.md, "Adding a metric".

``METRICS`` is the older map of the five feature-set functions, kept for compatibility:

========================  ==========================================================
``fid``                   :func:`fid_from_features` (features1, features2) -> float
``kid``                   :func:`kid` (features1, features2) -> (mean, std)
``is``                    :func:`inception_score` (probs) -> (mean, std)
``precision_recall``      :func:`precision_recall` (real, fake) -> dict
``density_coverage``      :func:`density_coverage` (real, fake) -> dict
========================  ==========================================================
"""

# Importing a metric module registers its metrics; a new metric adds one line here.
# (conditional: intra_fid, ...; segmentation: sensitivity, specificity, lesion_detection;
# cas: the Classification Accuracy Score of a conditional run)
from gankit.metrics import cas, conditional, segmentation  # noqa: F401
from gankit.metrics.dice import dice, dice_per_class
from gankit.metrics.fid import RunningStats, feature_statistics, fid_from_features, frechet_distance
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid, polynomial_kernel, polynomial_mmd2
from gankit.metrics.memorization import memorization
from gankit.metrics.modes import class_coverage, mode_coverage
from gankit.metrics.paired import score_pairs
from gankit.metrics.prdc import density_coverage, prdc, precision_recall
from gankit.metrics.psnr import psnr
from gankit.metrics.registry import (
    METRIC_REGISTRY,
    MetricInputs,
    MetricSpec,
    compute_metric,
    get_metric,
    metric_names,
    metric_rows,
    register_metric,
)
from gankit.metrics.ssim import ssim
from gankit.registry import Registry

METRICS: Registry = Registry("metric")
METRICS.register("fid")(fid_from_features)
METRICS.register("kid")(kid)
METRICS.register("is")(inception_score)
METRICS.register("precision_recall")(precision_recall)
METRICS.register("density_coverage")(density_coverage)

__all__ = [
    "METRICS",
    "METRIC_REGISTRY",
    "MetricInputs",
    "MetricSpec",
    "RunningStats",
    "class_coverage",
    "compute_metric",
    "density_coverage",
    "dice",
    "dice_per_class",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "get_metric",
    "inception_score",
    "kid",
    "memorization",
    "metric_names",
    "metric_rows",
    "mode_coverage",
    "polynomial_kernel",
    "polynomial_mmd2",
    "prdc",
    "precision_recall",
    "psnr",
    "register_metric",
    "score_pairs",
    "ssim",
]
