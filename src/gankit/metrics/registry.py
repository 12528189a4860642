"""The metric registry: each metric registers what it needs, and callers dispatch by name.

A metric module ends with one ``@register_metric(...)`` on a small adapter that reads the
inputs it declared from a :class:`MetricInputs` and returns a flat dict of results::

    @register_metric(
        "psnr",
        needs={PAIRS},
        higher_is_better=True,
        description="peak signal-to-noise ratio of paired images, dB (mean over images)",
        keys=("psnr",),
        function=psnr,
    )
    def _score(inputs: MetricInputs) -> dict[str, float]:
        return {"psnr": psnr(inputs.outputs, inputs.targets)}

What a metric *needs* decides who can compute it: :class:`~gankit.metrics.evaluate.Evaluator`
(``gankit eval``, metrics during training) provides the :data:`SAMPLE_SET_NEEDS`, generated
samples against a reference; :func:`~gankit.metrics.paired.score_pairs` provides
:data:`PAIRED_NEEDS`, aligned (output, target) arrays. Adding a metric is one small file that
registers itself and one import line in ``gankit/metrics/__init__.py``; nothing else changes.

This module imports no metric module (they import it), so registering never creates a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gankit.errors import ConfigError, DataError
from gankit.registry import Registry, close_matches

# --- what a metric can need ---------------------------------------------------------------------
FEATURES = "features"
CLASSIFIER = "classifier"
SAMPLES = "samples"
MODE_CENTRES = "mode_centres"
TRAIN_FEATURES = "train_features"
LABELS = "labels"
PAIRS = "pairs"
MASKS = "masks"
CONDITIONAL_RUN = "conditional_run"

#: Every requirement name, what it means, and the :class:`MetricInputs` fields that carry it.
REQUIREMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    FEATURES: (
        "extractor features (N, D) of the generated samples and of the reference",
        ("features", "ref_features"),
    ),
    CLASSIFIER: (
        "a classifier extractor: class probabilities (N, K) of the generated samples and "
        "predicted labels of both sets",
        ("probs",),
    ),
    SAMPLES: ("the generated samples themselves (vectors (N, D) or images)", ("samples",)),
    MODE_CENTRES: (
        "the centres (M, D) and std of a Gaussian-mixture reference (ring, grid)",
        ("centers", "std"),
    ),
    TRAIN_FEATURES: (
        "features of the training set, the reference being held-out data",
        ("train_features",),
    ),
    LABELS: (
        "the class (or code value) each generated sample was asked for; the true class of "
        "each reference item where a metric compares classes",
        ("labels",),
    ),
    PAIRS: ("aligned (output, target) images of the same shape", ("outputs", "targets")),
    MASKS: ("aligned (predicted, target) integer label masks", ("outputs", "targets")),
    CONDITIONAL_RUN: (
        "a class-conditional generator G(z | y) (a run) and labelled real train and test "
        "splits of the data it was trained on",
        ("generator", "ref_train", "ref_test"),
    ),
}
#: What :class:`~gankit.metrics.evaluate.Evaluator` provides (samples against a reference).
SAMPLE_SET_NEEDS = frozenset({FEATURES, CLASSIFIER, SAMPLES, MODE_CENTRES, TRAIN_FEATURES})
#: What :func:`~gankit.metrics.paired.score_pairs` provides (aligned output / target arrays).
PAIRED_NEEDS = frozenset({PAIRS, MASKS})
#: What :func:`~gankit.metrics.cas.evaluate_run_metrics` provides (a conditional run and its
#: labelled data): metrics that draw their own samples, class by class.
RUN_NEEDS = frozenset({CONDITIONAL_RUN})


@dataclass
class MetricInputs:
    """Everything a metric may read; each requirement fills its fields (see REQUIREMENTS).

    ``train_features`` may be a zero-argument callable: it is called (once) only when a metric
    that needs it runs, since loading a whole training set is expensive.
    """

    features: Any = None  # (N, D) features of the generated samples
    ref_features: Any = None  # (M, D) features of the reference
    ref_mean: np.ndarray | None = None  # (D,) float64 (FID computes it when None)
    ref_cov: np.ndarray | None = None  # (D, D) float64, unbiased
    probs: Any = None  # (N, K) class probabilities of the generated samples
    predicted: Any = None  # (N,) predicted classes of the generated samples
    ref_predicted: Any = None  # (M,) predicted classes of the reference
    samples: Any = None  # the generated samples, (N, D) or (N, C, H, W)
    centers: Any = None  # (M, D) mixture centres
    std: float | None = None  # per-axis std of each mixture component
    train_features: Any = None  # (T, D) or a callable returning it
    labels: Any = None  # (N,) requested class / code value of each generated sample
    ref_labels: Any = None  # (M,) true class of each reference item
    outputs: Any = None  # paired: (N, C, H, W) images or (N, H, W) masks
    targets: Any = None  # paired: the same shape as outputs
    crop: int = 0  # paired images: border pixels left out (the SR scale factor, by convention)
    y_channel: bool = False  # paired images: score RGB on its BT.601 luma (SR convention)
    chosen: Sequence[str] = ()  # every metric of this call (for metrics computed together)
    batch_size: int | None = None  # items per chunk for metrics that loop (None: their default)
    generator: Any = None  # conditional_run: a gankit.runs.Generator with num_classes > 0
    ref_train: Any = None  # conditional_run: labelled Dataset, the train split
    ref_test: Any = None  # conditional_run: labelled Dataset, the test split
    seed: int = 0  # seed of metrics that draw samples or train a model themselves
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def missing(self, needs: Iterable[str]) -> list[str]:
        """The requirements among ``needs`` whose fields are not filled."""
        return [
            n for n in sorted(needs) if any(getattr(self, f) is None for f in REQUIREMENTS[n][1])
        ]

    def train(self) -> Any:
        """The training-set features, loading them on first use when given as a callable."""
        if "train" not in self._cache:
            t = self.train_features
            self._cache["train"] = t() if callable(t) else t
        return self._cache["train"]


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: its name, what it needs, and how to compute it."""

    name: str
    needs: frozenset[str]  # requirement names, keys of REQUIREMENTS
    higher_is_better: bool | None  # of the headline value; None for a two-sided diagnostic
    description: str  # one line, with the paper it comes from
    keys: tuple[str, ...]  # the keys it adds to a result
    compute: Callable[[MetricInputs], dict[str, Any]]  # the adapter: inputs -> results
    function: Callable[..., Any] | None = None  # the public function it calls

    @property
    def scores(self) -> str:
        """``"samples"`` (Evaluator), ``"pairs"`` (score_pairs), ``"run"`` (a conditional run
        and its labelled splits: evaluate_run_metrics) or ``"other"`` (call the function
        directly, e.g. the conditional metrics that need labels)."""
        if self.needs <= SAMPLE_SET_NEEDS:
            return "samples"
        if self.needs <= PAIRED_NEEDS:
            return "pairs"
        if self.needs <= RUN_NEEDS:
            return "run"
        return "other"


#: Every metric, by name. (``gankit.metrics.METRICS`` is the older name -> feature-function map.)
METRIC_REGISTRY: Registry[MetricSpec] = Registry("metric")
#: Names that stand for several metrics.
ALIASES: dict[str, tuple[str, ...]] = {"prdc": ("precision_recall", "density_coverage")}


def register_metric(
    name: str,
    *,
    needs: Iterable[str],
    higher_is_better: bool | None,
    description: str,
    keys: Sequence[str],
    function: Callable[..., Any] | None = None,
) -> Callable[[Callable[[MetricInputs], dict[str, Any]]], Callable[[MetricInputs], dict]]:
    """Decorator: register the decorated adapter ``inputs -> dict`` as metric ``name``."""
    need_set = frozenset(needs)
    unknown = sorted(need_set - set(REQUIREMENTS))
    if unknown or not need_set:
        raise ValueError(
            f"metric {name!r}: needs {unknown or 'nothing'}; known: {list(REQUIREMENTS)}"
        )
    if not description.strip() or not keys:
        raise ValueError(f"metric {name!r} needs a description and the keys it returns")

    def add(compute: Callable[[MetricInputs], dict[str, Any]]) -> Callable:
        spec = MetricSpec(
            name, need_set, higher_is_better, description, tuple(keys), compute, function
        )
        METRIC_REGISTRY.register(name)(spec)
        return compute

    return add


def get_metric(name: str) -> MetricSpec:
    """The spec of ``name``; an unknown name is a ConfigError naming close matches."""
    return METRIC_REGISTRY.get(name)


def metric_names(scores: str | None = None) -> list[str]:
    """Sorted names of every metric, or of those computed the way ``scores`` says."""
    return [n for n in METRIC_REGISTRY if scores is None or METRIC_REGISTRY.get(n).scores == scores]


def metric_rows() -> list[tuple[str, str]]:
    """(name, description) of every registered metric, sorted by name: for ``gankit list``."""
    return [(n, METRIC_REGISTRY.get(n).description) for n in METRIC_REGISTRY]


def parse_metric_names(metrics: str | Sequence[str] | None, scores: str) -> list[str] | None:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> checked names of metrics computed the way
    ``scores`` says (aliases expand, duplicates drop); None or "" -> None."""
    if metrics is None:
        return None
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    valid = metric_names(scores)
    names: list[str] = []
    for raw in items:
        name = raw.strip().lower()
        if not name:
            continue
        for one in ALIASES.get(name, (name,)):
            if one not in METRIC_REGISTRY:
                aliases = [a for a, parts in ALIASES.items() if set(parts) <= set(valid)]
                # close names of this kind first, then of any kind (which then explains itself)
                hint = close_matches(name, valid + aliases) or close_matches(
                    name, METRIC_REGISTRY.names()
                )
                runs = metric_names("run") if scores == "samples" else []
                also = f" A class-conditional run also takes: {', '.join(runs)}." if runs else ""
                raise ConfigError(
                    f"unknown metric {name!r}.{hint} Valid: {', '.join(valid + aliases)}.{also}"
                )
            spec = METRIC_REGISTRY.get(one)
            if spec.scores != scores:
                raise ConfigError(_wrong_kind(spec, scores) + f" Valid here: {', '.join(valid)}.")
            if one not in names:
                names.append(one)
    return names or None


def _wrong_kind(spec: MetricSpec, scores: str) -> str:
    needs = ", ".join(sorted(spec.needs))
    if spec.scores == "pairs":
        how = "call gankit.metrics.score_pairs(outputs, targets, metrics=...)"
    elif spec.scores == "samples":
        how = "use gankit eval / gankit.metrics.evaluate.evaluate"
    elif spec.scores == "run":
        how = "use gankit eval RUN --metrics NAME on a class-conditional run"
    else:
        how = f"call {_qualname(spec.function)} with those inputs"
    what = {"samples": "generated samples against a reference", "pairs": "aligned pairs"}
    return f"metric {spec.name!r} needs {needs}, not {what.get(scores, scores)}: {how}."


def _qualname(fn: Callable | None) -> str:
    return f"{fn.__module__}.{fn.__name__}" if fn is not None else "its function"


def compute_metric(name: str, inputs: MetricInputs) -> dict[str, Any]:
    """Run metric ``name`` on ``inputs``; missing requirements raise a DataError naming them."""
    spec = get_metric(name)
    lacking = inputs.missing(spec.needs)
    if lacking:
        detail = "; ".join(f"{n}: {REQUIREMENTS[n][0]}" for n in lacking)
        raise DataError(f"metric {name!r} is missing what it needs ({detail})")
    return spec.compute(inputs)
