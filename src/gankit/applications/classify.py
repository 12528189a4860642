"""The small classifier the data applications train and score (CAS, class imbalance).

The network is the domain classifier's :class:`~gankit.metrics.classifier.DomainCNN` and it is
trained by that module's own loop (Adam, cosine decay to 0): only the data it sees differs.
"Classic augmentation" (random shifts of up to ``shift`` pixels, filled with the background
value -1, and left-right flips; Krizhevsky et al. 2012, Sec. 4.1; Simard et al. 2003) is drawn
afresh for every epoch: the E epochs become one pass over E augmented copies of the set, so
the loop itself stays the shared one.

Scores (Brodersen et al. 2010, "The balanced accuracy and its posterior distribution"):
balanced accuracy = the mean over classes of the per-class recall; a class's sensitivity is
TP / (TP + FN) and its specificity TN / (TN + FP), one class against the rest.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gankit.errors import ConfigError, DataError
from gankit.metrics.classifier import DomainCNN, _fit

BACKGROUND = -1.0  # black in [-1, 1]: what a shifted image is filled with


def augment(x: Tensor, gen: torch.Generator, shift: int = 2, flip: bool = True) -> Tensor:
    """(N, C, H, W) -> a copy shifted by up to ``shift`` px in each axis and, where ``flip``,
    mirrored left-right with probability 1/2; one draw per image from ``gen``."""
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (shift,) * 4, value=BACKGROUND)
    dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    mirror = (torch.rand(n, generator=gen) < 0.5) & flip
    out = torch.empty_like(x)
    for oy in range(2 * shift + 1):  # one slice per offset: (2 * shift + 1)^2 groups
        for ox in range(2 * shift + 1):
            pick = (dy == oy) & (dx == ox)
            out[pick] = padded[pick, :, oy : oy + h, ox : ox + w]
    out[mirror] = out[mirror].flip(-1)
    return out


def fit_cnn(
    x: Tensor,
    y: Tensor,
    num_classes: int,
    *,
    epochs: int = 5,
    width: int = 16,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    augmented: bool = False,
    shift: int = 2,
    flip: bool = True,
) -> DomainCNN:
    """A DomainCNN trained on images ``x`` (N, C, H, W) in [-1, 1] and labels ``y`` (N,);
    seeded: the same arguments give the same weights. Returned in eval mode."""
    if epochs < 1 or width < 1 or batch_size < 1:
        raise ConfigError(
            f"epochs, width, batch size must be >= 1: {epochs}, {width}, {batch_size}"
        )
    if x.ndim != 4 or len(x) != len(y) or len(x) == 0:
        raise DataError(f"need images (N, C, H, W) and N labels, got {tuple(x.shape)} / {len(y)}")
    if int(y.max()) >= num_classes or int(y.min()) < 0:
        raise DataError(f"labels must be 0..{num_classes - 1}, got {int(y.min())}..{int(y.max())}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DomainCNN(x.shape[1], num_classes, width, x.shape[-1])
        if augmented:
            gen = torch.Generator().manual_seed(seed + 1)
            x = torch.cat([augment(x, gen, shift, flip) for _ in range(epochs)])
            y = y.repeat(epochs)
            epochs = 1
        _fit(net, x, y, epochs, batch_size, lr, seed, progress=False, desc="classifier")
    return net.eval()


@torch.no_grad()
def predict(net: DomainCNN, x: Tensor, batch_size: int = 1000) -> Tensor:
    """Predicted classes (N,) of images ``x``."""
    net.eval()
    return torch.cat(
        [net(x[s : s + batch_size])[1].argmax(1) for s in range(0, len(x), batch_size)]
    )


def class_scores(predicted, target, num_classes: int) -> dict:
    """accuracy, balanced accuracy and per-class sensitivity / specificity (one vs rest)."""
    p = np.asarray(predicted, dtype=np.int64)
    t = np.asarray(target, dtype=np.int64)
    if p.shape != t.shape or p.size == 0:
        raise DataError(f"{p.size} predictions for {t.size} targets")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)  # cm[true, predicted]
    np.add.at(cm, (t, p), 1)
    tp = np.diag(cm).astype(np.float64)
    fn = cm.sum(1) - tp
    fp = cm.sum(0) - tp
    tn = cm.sum() - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = tp / (tp + fn)
        spec = tn / (tn + fp)
    present = (tp + fn) > 0
    return {
        "accuracy": float(tp.sum() / cm.sum()),
        "balanced_accuracy": float(sens[present].mean()),
        "sensitivity": [float(v) for v in sens],
        "specificity": [float(v) for v in spec],
    }


def per_class_draw(y: Tensor, per_class: int, seed: int, classes: int) -> Tensor:
    """Indices of ``per_class`` items of each class 0..classes-1, drawn at random (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for k in range(classes):
        idx = torch.nonzero(y == k).flatten()
        if len(idx) < per_class:
            raise DataError(f"class {k} has {len(idx)} items, fewer than the {per_class} asked for")
        picks.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(picks)


def mean_interval(values) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t interval (0 for a single value)."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return float(v.mean()), 0.0
    half = stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean()), float(half)
