"""Feature-level evaluation metrics: pure functions of feature arrays (numpy or torch).

Feature extraction (Inception or any other network) lives elsewhere; everything here takes
the features or class probabilities. By design this package never imports ``gankit.training``.

``METRICS`` maps names to the registered metric functions:

========================  ==========================================================
``fid``                   :func:`fid_from_features` (features1, features2) -> float
``kid``                   :func:`kid` (features1, features2) -> (mean, std)
``is``                    :func:`inception_score` (probs) -> (mean, std)
``precision_recall``      :func:`precision_recall` (real, fake) -> dict
``density_coverage``      :func:`density_coverage` (real, fake) -> dict
========================  ==========================================================
"""

from gankit.metrics.fid import RunningStats, feature_statistics, fid_from_features, frechet_distance
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid, polynomial_kernel, polynomial_mmd2
from gankit.metrics.memorization import memorization
from gankit.metrics.modes import class_coverage, mode_coverage
from gankit.metrics.prdc import density_coverage, prdc, precision_recall
from gankit.registry import Registry

METRICS: Registry = Registry("metric")
METRICS.register("fid")(fid_from_features)
METRICS.register("kid")(kid)
METRICS.register("is")(inception_score)
METRICS.register("precision_recall")(precision_recall)
METRICS.register("density_coverage")(density_coverage)

__all__ = [
    "METRICS",
    "RunningStats",
    "class_coverage",
    "density_coverage",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "inception_score",
    "kid",
    "memorization",
    "mode_coverage",
    "polynomial_kernel",
    "polynomial_mmd2",
    "prdc",
    "precision_recall",
]
