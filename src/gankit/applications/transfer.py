"""The discriminator as a base model for transfer learning (issue 18).

The lecture's conclusion: "Train GAN - use the discriminator as base model for transfer
learning and the fine-tuning of a production model". Radford et al. 2015 ("Unsupervised
Representation Learning with Deep Convolutional GANs", Sec. 5.1) show that a trained D's
features are good for classification with a frozen network and a linear L2-SVM
(`gankit probe`); here the network is not frozen: D's output layer is replaced by a new linear
class head on its penultimate features (the flattened output of its conv trunk, exactly what
its own output layer read), and ALL layers are fine-tuned with cross-entropy on N labelled
images per class drawn (seeded) from the training split. Accuracy is measured on the test
split.

The honest baseline is the same network with random initial weights (built from the run's
spec, :func:`gankit.runs.load_network` with ``init_seed``), trained the same way: the same
labelled images, the same class-head initialisation, optimiser (Adam, cosine decay to 0),
number of steps, batch order and augmentation (random shifts of up to 1/14 of the image side,
2 px at 28x28, filled with the background -1; flips only where asked). The pretrained network
is worth something only by its margin over it.

Protocol, for each of R draws r = 0 .. R-1: N images of every class are drawn from the
training split (one numpy generator seeded with ``seed`` gives all R draws); both networks are
fine-tuned with training seed ``seed * 1000 + r`` (head initialisation, batch order,
augmentation); the scratch network's weights come from that seed too. Reported: each init's
test accuracy per draw, their mean and sample standard deviation (ddof=1), and the paired
per-draw differences.

The discriminator is reached as `gankit probe` reaches it (:mod:`gankit.probe`): the network
behind the run's ``features`` export, or for an older run the one network whose class computes
probe features; the run directory is read through :mod:`gankit.runs` and nothing here imports
the training code.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gankit.applications.classify import augment
from gankit.data import Dataset, load_dataset
from gankit.errors import ConfigError, DataError, RunError
from gankit.exports import describe as describe_exports
from gankit.nn.pack import pack as pack_samples
from gankit.nn.pack import unpack_repeat
from gankit.probe import FEATURES_EXPORT, _with_probe_features
from gankit.runs import RunDir, load_network, run_exports

# Fine-tuning defaults, fixed before any result was seen and the same for both inits.
DEFAULTS = {
    "epochs": 20,  # passes over the N * K labelled images ...
    "min_steps": 300,  # ... but at least this many steps (N = 10: 100 images, 2 batches)
    "batch_size": 64,
    "lr": 5e-4,  # Adam, the dcgan presets' D rate; cosine decay to 0 over the steps
    "shift": None,  # random shifts of up to side // 14 px: 2 at 28x28, 0 at 8x8 (Simard 2003)
    "flip": False,  # left-right flips change some classes' meaning (digits): off by default
}
EVAL_BATCH = 500
SEED_STRIDE = 1000  # draw r trains with seed * SEED_STRIDE + r


class DiscriminatorClassifier(nn.Module):
    """A discriminator's conv trunk with a new linear class head:
    (N, C, H, W) -> trunk -> (N, ch, s, s) -> flatten -> (N, ch*s*s) -> Linear -> (N, K)."""

    def __init__(
        self,
        trunk: nn.Module,  # the discriminator's ``features``: every layer before its output
        in_shape: list[int],  # (C, H, W) the discriminator takes
        num_classes: int,
        pack: int = 1,  # PacGAN degree of the discriminator: an image goes in as m copies
    ):
        super().__init__()
        self.trunk, self.pack, self.in_shape = trunk, pack, list(in_shape)
        was = trunk.training
        with torch.no_grad():
            trunk.eval()  # a batch of one through BatchNorm: use its running statistics
            dim = self.penultimate(torch.zeros(1, *in_shape)).shape[1]
            trunk.train(was)
        self.head = nn.Linear(dim, num_classes)  # PyTorch's default init, from the caller's seed

    def penultimate(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, F): what the discriminator's own output layer read."""
        return self.trunk(pack_samples(unpack_repeat(x, self.pack), self.pack)).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.penultimate(x))


def find_discriminator(run: str | os.PathLike) -> tuple[str, list[int]]:
    """(network key, image shape (C, H, W)) of the run's discriminator: the network behind
    its ``features`` export (what `gankit probe` reads), else, for an older run, the one
    network whose class computes probe features. RunError when there is none."""
    exports = run_exports(run)
    e = exports.get(FEATURES_EXPORT)
    if e is not None and e.kind == "map" and e.call == "probe_features" and not e.composite:
        return e.module, [int(v) for v in e.input.get("shape", [])]
    keys = _with_probe_features(run)
    if len(keys) == 1:
        meta = RunDir.open(run).load_checkpoint().meta
        return keys[0], [int(v) for v in meta.get("data_shape", [])]
    raise RunError(
        f"{run} has no convolutional discriminator to fine-tune (dcgan-style runs have one); "
        f"it offers: {describe_exports(exports)}."
    )


def load_base(
    run: str | os.PathLike, num_classes: int, init_seed: int | None = None, head_seed: int = 0
) -> DiscriminatorClassifier:
    """The run's discriminator with a new ``num_classes``-way head (initialised from
    ``head_seed``); its trained weights, or with ``init_seed`` the same architecture with
    fresh random weights from that seed (the baseline)."""
    key, shape = find_discriminator(run)
    net = load_network(run, key, ema=False, init_seed=init_seed)
    trunk = getattr(net, "features", None)
    if not isinstance(trunk, nn.Module) or len(shape) != 3:
        raise RunError(
            f"{run}: its discriminator ({type(net).__name__}) has no conv trunk of images "
            "to fine-tune"
        )
    with torch.random.fork_rng(devices=[]):  # the caller's random stream is left alone
        torch.manual_seed(head_seed)
        return DiscriminatorClassifier(trunk, shape, num_classes, int(getattr(net, "pack", 1)))


def draw_per_class(y: np.ndarray, per_class: int, draws: int, seed: int) -> list[np.ndarray]:
    """``draws`` draws of ``per_class`` training indices of every class, without replacement
    within a draw; seeded: the same arguments give the same draws."""
    if per_class < 1:
        raise ConfigError(f"--labels-per-class must be at least 1, got {per_class}")
    if draws < 1:
        raise ConfigError(f"--draws must be at least 1, got {draws}")
    classes, counts = np.unique(y, return_counts=True)
    if per_class > counts.min():
        k = int(classes[counts.argmin()])
        raise DataError(
            f"--labels-per-class {per_class} is more than the training split has of class {k} "
            f"({int(counts.min())}); use --labels-per-class {int(counts.min())} or fewer"
        )
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(y == c) for c in classes]
    return [
        np.concatenate([rng.choice(m, per_class, replace=False) for m in members])
        for _ in range(draws)
    ]


def _check_images(model: DiscriminatorClassifier, x: Tensor, what: str) -> None:
    if x.ndim != 4 or list(x.shape[1:]) != model.in_shape:
        raise DataError(
            f"{what}: images of shape {list(x.shape[1:])}; the discriminator takes "
            f"{model.in_shape} (C, H, W). Use data of the size and channels the run was trained on."
        )


def default_shift(shape: list[int]) -> int:
    """Largest random shift for images of ``shape`` (C, H, W): 1/14 of the side, 2 px at 28."""
    return int(shape[-1]) // 14


def steps_for(n_images: int, epochs: int, min_steps: int, batch_size: int) -> int:
    """Fine-tuning steps: ``epochs`` passes over ``n_images``, at least ``min_steps``."""
    return max(min_steps, math.ceil(epochs * n_images / batch_size))


def fine_tune(
    model: DiscriminatorClassifier,
    x: Tensor,
    y: Tensor,
    *,
    steps: int,
    batch_size: int = DEFAULTS["batch_size"],
    lr: float = DEFAULTS["lr"],
    seed: int = 0,
    shift: int | None = DEFAULTS["shift"],
    flip: bool = DEFAULTS["flip"],
) -> DiscriminatorClassifier:
    """Train ALL of ``model``'s parameters with cross-entropy on images ``x`` (N, C, H, W) in
    [-1, 1] and labels ``y`` (N,) for ``steps`` Adam steps (cosine decay to 0). Batches are
    drawn by reshuffling every epoch; augmentation is drawn per batch. Seeded: the same
    ``seed`` gives the same batches and augmentations whatever the model. Returned in eval mode."""
    _check_images(model, x, "training data")
    shift = default_shift(model.in_shape) if shift is None else shift
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ConfigError(f"steps, batch size and lr must be positive: {steps}, {batch_size}, {lr}")
    y = torch.as_tensor(y, dtype=torch.long)
    if len(y) != len(x) or len(x) == 0:
        raise DataError(f"need images and as many labels, got {len(x)} images and {len(y)} labels")
    if int(y.min()) < 0 or int(y.max()) >= model.head.out_features:
        raise DataError(f"labels must be 0..{model.head.out_features - 1}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    batch_size = min(batch_size, len(x))
    order, at = torch.randperm(len(x), generator=gen), 0
    model.train()
    for _ in range(steps):
        if at + batch_size > len(order):  # a new epoch: a fresh order, no ragged batch
            order, at = torch.randperm(len(x), generator=gen), 0
        idx = order[at : at + batch_size]
        at += batch_size
        xb = augment(x[idx], gen, shift, flip) if shift > 0 or flip else x[idx]
        loss = nn.functional.cross_entropy(model(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: DiscriminatorClassifier, x: Tensor, y: Tensor) -> float:
    """Share of images ``x`` whose predicted class is ``y`` (the model in eval mode)."""
    _check_images(model, x, "test data")
    model.eval()
    pred = torch.cat([model(c).argmax(1) for c in x.split(EVAL_BATCH)])
    return float((pred == torch.as_tensor(y)).float().mean())


def _splits(name: str, shape: list[int], root: str | os.PathLike | None) -> tuple[Dataset, Dataset]:
    sizes = {"channels": shape[0], "image_size": shape[1]}
    out = []
    for split in ("train", "test"):
        d = load_dataset(name, root=root, split=split, **sizes)
        if d.y is None:
            raise DataError(f"dataset {name!r} ({split} split) has no class labels to train on")
        if list(d.shape) != shape:
            raise DataError(
                f"dataset {name!r} gives images of shape {list(d.shape)}; the run's "
                f"discriminator takes {shape}. Use the kind of data the run was trained on."
            )
        out.append(d)
    return out[0], out[1]


def _summary(accs: list[float]) -> dict[str, Any]:
    return {
        "mean": float(np.mean(accs)),
        "std": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
        "accuracies": accs,
    }


def transfer(
    run: str | os.PathLike,
    labels_per_class: int,
    draws: int = 3,
    seed: int = 0,
    data: str | None = None,
    data_root: str | os.PathLike | None = None,
    test_n: int | None = None,
    epochs: int = DEFAULTS["epochs"],
    min_steps: int = DEFAULTS["min_steps"],
    batch_size: int = DEFAULTS["batch_size"],
    lr: float = DEFAULTS["lr"],
    shift: int | None = DEFAULTS["shift"],
    flip: bool = DEFAULTS["flip"],
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`gankit transfer`: fine-tune ``run``'s discriminator (pretrained) and the same network
    from random weights (scratch) on ``labels_per_class`` labels per class of ``data``
    (default: the run's own dataset), ``draws`` times; one JSON-serialisable dict. See the
    module docstring for the protocol. ``test_n``: score on that many test images (drawn with
    ``seed``) instead of the whole test split."""
    say = progress or (lambda _msg: None)
    t0, c0 = time.perf_counter(), time.process_time()
    cfg = RunDir.open(run).config()
    key, shape = find_discriminator(run)
    if data is None:
        data, data_root = cfg.data.name, data_root if data_root is not None else cfg.data.root
    train, test = _splits(data, shape, data_root or None)
    picks = draw_per_class(train.y.numpy(), labels_per_class, draws, seed)
    classes = int(train.y.max()) + 1
    test_x, test_y = test.x, test.y
    if test_n is not None:
        if not 1 <= test_n <= len(test):
            raise ConfigError(f"--test-n must be 1..{len(test)} (the test split), got {test_n}")
        keep = torch.as_tensor(np.random.default_rng(seed).permutation(len(test))[:test_n])
        test_x, test_y = test_x[keep], test_y[keep]
    shift = default_shift(shape) if shift is None else shift
    steps = steps_for(labels_per_class * classes, epochs, min_steps, batch_size)
    say(
        f"fine-tuning network {key} of {run} on {data}: {labels_per_class} labels per class "
        f"x {classes} classes, {steps} steps, {draws} draws; testing on {len(test_x)} images"
    )
    accs: dict[str, list[float]] = {"pretrained": [], "scratch": []}
    head_input = 0
    for r, idx in enumerate(picks):
        s = seed * SEED_STRIDE + r
        x, y = train.x[torch.as_tensor(idx)], train.y[torch.as_tensor(idx)]
        for init in accs:
            model = load_base(run, classes, init_seed=s if init == "scratch" else None, head_seed=s)
            fine_tune(
                model,
                x,
                y,
                steps=steps,
                batch_size=batch_size,
                lr=lr,
                seed=s,
                shift=shift,
                flip=flip,
            )
            accs[init].append(accuracy(model, test_x, test_y))
            head_input = model.head.in_features
            say(f"draw {r + 1}/{draws} {init}: test accuracy {accs[init][-1]:.4f}")
    diff = [a - b for a, b in zip(accs["pretrained"], accs["scratch"])]
    return {
        "run": str(run),
        "network": key,
        "data": data,
        "classes": classes,
        "labels_per_class": labels_per_class,
        "draws": draws,
        "seed": seed,
        "train_n": len(train),
        "test_n": len(test_x),
        "steps": steps,
        "batch_size": min(batch_size, labels_per_class * classes),
        "lr": lr,
        "augment": {"shift": shift, "flip": flip},
        "head_input": head_input,
        "results": {k: _summary(v) for k, v in accs.items()},
        "pretrained_minus_scratch": {
            "mean": float(np.mean(diff)),
            "std": _summary(diff)["std"],
            "per_draw": diff,
            "wins": int(sum(d > 0 for d in diff)),
        },
        "seconds": round(time.perf_counter() - t0, 2),
        "cpu_seconds": round(time.process_time() - c0, 2),
    }


def table(report: dict[str, Any]) -> str:
    """The results as a small text table."""
    n, r = report["labels_per_class"], report["draws"]
    lines = [
        f"network {report['network']} of {report['run']} on {report['data']}: {n} labels per "
        f"class, {report['steps']} steps, {report['test_n']} test images",
        f"{'init':<11} test accuracy (mean ± std, {r} draws)",
    ]
    for name, res in report["results"].items():
        lines.append(f"{name:<11} {res['mean']:.4f} ± {res['std']:.4f}")
    d = report["pretrained_minus_scratch"]
    lines.append(
        f"{'difference':<11} {d['mean']:+.4f} ± {d['std']:.4f} ({d['wins']}/{r} draws won)"
    )
    return "\n".join(lines)
