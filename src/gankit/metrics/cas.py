"""Classification Accuracy Score (Ravuri & Vinyals, "Classification Accuracy Score for
Conditional Generative Models", NeurIPS 2019, Sec. 3).

CAS trains a classifier on class-conditional samples only, x ~ G(z | y) with ``per_class``
samples of each class y, and reports its accuracy on the real test split. Its honest baseline
is the same classifier, same schedule, trained on the same number of *real* training images
(``per_class`` of each class, drawn at random): the paper's "real" column. The ratio CAS /
real accuracy says how much of a real training set the generator can stand in for.

The classifier is the domain classifier's architecture (DomainCNN, gankit.metrics.classifier)
trained by its loop, through :func:`gankit.applications.classify.fit_cnn`.

CAS is the registered metric ``cas`` (``gankit eval RUN --metrics cas``). Unlike the
sample-set metrics it cannot score a fixed set of samples: it draws its own, class by class,
from a class-conditional generator, and it needs labelled real train *and* test splits. So it
declares the requirement ``conditional_run`` (the generator and both splits), which
:func:`evaluate_run_metrics` fills from a run directory and a labelled reference (by default
the run's own dataset). Through the registry it uses the defaults below, with ``per_class``
capped at the smallest class of the train split and the seed of ``gankit eval --seed``;
``gankit cas`` sets every option.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from gankit.errors import ConfigError, DataError
from gankit.metrics.registry import (
    CONDITIONAL_RUN,
    MetricInputs,
    compute_metric,
    parse_metric_names,
    register_metric,
)
from gankit.runs import Generator

DEFAULTS = {"per_class": 1000, "epochs": 5, "width": 16, "batch_size": 64}


def class_samples(G: Generator, num_classes: int, per_class: int, seed: int):
    """(per_class * K samples (N, C, H, W), their requested labels (N,)), class by class;
    class k is drawn with seed ``seed + k`` so that a class's samples do not depend on K."""
    xs = [G.sample(per_class, seed=seed + k, label=k) for k in range(num_classes)]
    return torch.cat(xs), torch.arange(num_classes).repeat_interleave(per_class)


def classification_accuracy_score(
    G: Generator,
    train,
    test,
    *,
    per_class: int = DEFAULTS["per_class"],
    seed: int = 0,
    epochs: int = DEFAULTS["epochs"],
    width: int = DEFAULTS["width"],
    batch_size: int = DEFAULTS["batch_size"],
) -> dict:
    """CAS of conditional generator ``G`` beside real-data training.

    ``train`` and ``test`` are labelled :class:`~gankit.data.Dataset` s of the images G was
    trained to make. Returns ``cas`` (test accuracy of the classifier trained on samples),
    ``real_accuracy`` (the same trained on ``per_class`` real images per class), their ratio,
    both balanced accuracies and per-class recalls, and the settings.
    """
    from gankit.applications.classify import class_scores, fit_cnn, per_class_draw, predict

    k = G.num_classes
    if not k:
        raise DataError(f"{G.source} is not class-conditional; CAS needs G(z | y)")
    if train.y is None or test.y is None:
        raise DataError("CAS needs labelled train and test splits")
    if train.num_classes != k or tuple(train.shape) != tuple(test.shape):
        raise DataError(
            f"{G.source} makes {k} classes; the reference has {train.num_classes} classes of "
            f"shape {train.shape}: score a run against the dataset it was trained on"
        )
    fake_x, fake_y = class_samples(G, k, per_class, seed)
    if tuple(fake_x.shape[1:]) != tuple(test.shape):
        raise DataError(
            f"{G.source} makes images of shape {tuple(fake_x.shape[1:])}, the reference "
            f"holds {test.shape}; pass the reference the run was trained on"
        )
    pick = per_class_draw(train.y, per_class, seed, k)
    opts = {"epochs": epochs, "width": width, "batch_size": batch_size, "seed": seed}
    out = {}
    for name, (x, y) in {"cas": (fake_x, fake_y), "real": (train.x[pick], train.y[pick])}.items():
        net = fit_cnn(x, y, k, **opts)
        out[name] = class_scores(predict(net, test.x), test.y, k)
    return {
        "cas": out["cas"]["accuracy"],
        "real_accuracy": out["real"]["accuracy"],
        "ratio": out["cas"]["accuracy"] / max(out["real"]["accuracy"], 1e-12),
        "cas_balanced": out["cas"]["balanced_accuracy"],
        "real_balanced": out["real"]["balanced_accuracy"],
        "cas_per_class": out["cas"]["sensitivity"],
        "real_per_class": out["real"]["sensitivity"],
        "per_class": per_class,
        "n_test": len(test),
        "seed": seed,
        **{k_: v for k_, v in opts.items() if k_ != "seed"},
    }


KEYS = (
    "cas",
    "real_accuracy",
    "ratio",
    "cas_balanced",
    "real_balanced",
    "cas_per_class",
    "real_per_class",
    "per_class",
    "n_test",
)


@register_metric(
    "cas",
    needs={CONDITIONAL_RUN},
    higher_is_better=True,
    description="Classification Accuracy Score: real-test accuracy of a classifier trained "
    "on G(z | y) samples only, beside the same trained on real images (Ravuri & Vinyals 2019)",
    keys=KEYS,
    function=classification_accuracy_score,
)
def _score_cas(inputs: MetricInputs) -> dict[str, Any]:
    train = inputs.ref_train
    if train.y is None or inputs.ref_test.y is None:
        raise DataError(
            "metric 'cas' needs a labelled reference with train and test splits "
            "(e.g. fashion-mnist); this one has no class labels"
        )
    smallest = int(torch.bincount(train.y).min()) if len(train.y) else 0
    per_class = min(DEFAULTS["per_class"], smallest)
    if per_class < 1:
        raise DataError("metric 'cas': a class of the reference's train split has no images")
    report = classification_accuracy_score(
        inputs.generator, train, inputs.ref_test, per_class=per_class, seed=inputs.seed
    )
    return {k: report[k] for k in KEYS}


def run_inputs(
    run: str | os.PathLike,
    reference: str | None = None,
    *,
    data_root: str | None = None,
    seed: int = 0,
) -> tuple[MetricInputs, str]:
    """(MetricInputs with ``conditional_run`` filled, the reference's description) for the
    run directory ``run``: its final generator, and the train and test splits of
    ``reference`` (``NAME`` or ``NAME:test``; default: the run's own dataset and data.root)
    at the generator's image size and channels. Each missing piece is one DataError line."""
    from gankit.data import load_dataset
    from gankit.runs import RunDir, load_generator

    G = load_generator(run)
    if not G.num_classes:
        raise DataError(
            f"{run} is not class-conditional (its generator takes no class label); CAS "
            "needs G(z | y): score a conditional run such as cgan-fashion"
        )
    if reference is None:
        cfg = RunDir.open(run).config()
        name, root = cfg.data.name, cfg.data.root or None
    else:
        name, _, split = str(reference).partition(":")
        if not name or split not in ("", "test"):
            raise ConfigError(
                f"reference {reference!r}: give a labelled dataset, optionally with ':test' "
                "(CAS trains on its train split and scores on its test split)"
            )
        root = data_root
    shape = tuple(G.sample(1, seed=0, label=0).shape[1:])
    if len(shape) != 3:
        raise DataError(f"{run} makes vectors of shape {shape}; CAS needs an image run")
    kw = {"root": root, "image_size": shape[-1], "channels": shape[0]}
    splits = {}
    for split in ("train", "test"):
        try:
            splits[split] = load_dataset(name, split=split, **kw)
        except ConfigError as exc:
            raise DataError(
                f"CAS needs labelled train and test splits; dataset {name!r} has none for "
                f"{split!r} ({exc})"
            ) from None
        if splits[split].y is None:
            raise DataError(
                f"CAS needs class labels; dataset {name!r} has none: use a labelled "
                "reference such as fashion-mnist"
            )
    inputs = MetricInputs(
        generator=G, ref_train=splits["train"], ref_test=splits["test"], seed=seed
    )
    return inputs, f"{name}:test"


def evaluate_run_metrics(
    run: str | os.PathLike,
    metrics: str | list[str],
    reference: str | None = None,
    *,
    data_root: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """``gankit eval RUN --metrics cas``: the registered metrics that need a conditional run
    (``conditional_run``), scored on ``run``; one flat dict with the source and reference."""
    names = parse_metric_names(metrics, "run") or []
    inputs, described = run_inputs(run, reference, data_root=data_root, seed=seed)
    out: dict[str, Any] = {"source": f"run {run}", "reference": described, "seed": seed}
    for name in names:
        out.update(compute_metric(name, inputs))
    return out
