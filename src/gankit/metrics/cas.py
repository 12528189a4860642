"""Classification Accuracy Score (Ravuri & Vinyals, "Classification Accuracy Score for
Conditional Generative Models", NeurIPS 2019, Sec. 3).

CAS trains a classifier on class-conditional samples only, x ~ G(z | y) with ``per_class``
samples of each class y, and reports its accuracy on the real test split. Its honest baseline
is the same classifier, same schedule, trained on the same number of *real* training images
(``per_class`` of each class, drawn at random): the paper's "real" column. The ratio CAS /
real accuracy says how much of a real training set the generator can stand in for.

The classifier is the domain classifier's architecture (DomainCNN, gankit.metrics.classifier)
trained by its loop, through :func:`gankit.applications.classify.fit_cnn`. It is not in the
metric registry: the registry's metrics read features or images of one sample set, and CAS
needs labelled real training *and* test images besides the samples (docs/applications.md).
"""

from __future__ import annotations

import torch

from gankit.errors import DataError
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
