"""The domain classifier: a small CNN that gankit trains on a labelled dataset's training split.

FID, KID and the k-NN metrics compare generated and real images through an embedding. The
standard embedding is InceptionV3 trained on ImageNet (Heusel et al. 2017), which says little
about 28x28 grey clothes or digits and needs a weights file. A classifier trained on the
domain itself gives a meaningful embedding for such data; this is the "domain-specific
classifier" route of e.g. the LeNet-based MNIST scores used by Lucic et al., "Are GANs Created
Equal? A Large-Scale Study", NeurIPS 2018, Sec. 5. Its penultimate layer (global-average-pooled
conv features, the analogue of Inception's pool3) feeds FID/KID/PRDC; its softmax feeds the
Inception Score (Salimans et al. 2016) and the predicted-class histogram.

Cache: ``$GANKIT_CACHE/extractors/<dataset>/`` (else ``$XDG_CACHE_HOME/gankit/...``, else
``~/.cache/gankit/...``) holds ``classifier.safetensors`` (weights) and ``classifier.json``
(architecture arguments, test accuracy, data fingerprints and a content hash). Nothing is
pickled. The JSON is written last, so a crash mid-save leaves no usable-looking entry.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor, nn

from gankit.cache import cache_root  # also imported from here by other modules
from gankit.errors import ConfigError, DataError, GankitError
from gankit.runs import atomic_write_bytes

CACHE_FORMAT = "gankit-domain-classifier-1"
#: Datasets that have labels and a held-out test split to measure the classifier on.
DOMAIN_DATASETS = ("digits", "mnist", "fashion-mnist")
#: Epochs per dataset: enough for the accuracy in docs/metrics.md in a few CPU minutes at most
#: (digits is 1437 images of 8x8, so many epochs still take seconds).
DEFAULT_EPOCHS = {"digits": 10, "mnist": 2, "fashion-mnist": 3}
WEIGHTS_FILE, INFO_FILE = "classifier.safetensors", "classifier.json"
#: Bumped whenever DomainCNN's layers change, so a classifier cached by an older gankit is
#: reported as such instead of failing to load.
ARCH_VERSION = 2


class ExtractorNotTrained(GankitError):
    """The domain classifier a metric needs has not been trained and cached yet."""


def classifier_dir(dataset: str) -> Path:
    return cache_root() / "extractors" / dataset


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    # BN after the conv (Ioffe & Szegedy 2015) makes a few epochs of Adam enough.
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)
    )


class DomainCNN(nn.Module):
    """Four conv-BN-ReLU blocks (width, 2*width, 4*width, 4*width channels) with 2x2 max-pools
    after the first two, a global average pool (the features, ``4 * width`` wide), then one
    linear layer to the class logits.

    ``forward`` returns ``(features, logits)``: (N, 4*width) and (N, num_classes).
    """

    def __init__(
        self, in_channels: int = 1, num_classes: int = 10, width: int = 32, image_size: int = 28
    ):
        super().__init__()
        self.in_channels, self.num_classes = in_channels, num_classes
        self.image_size = image_size  # the side it was trained on; extractors resize to it
        self.body = nn.Sequential(
            _conv_block(in_channels, width),
            nn.MaxPool2d(2),  # (N, w, H/2, W/2)
            _conv_block(width, 2 * width),
            nn.MaxPool2d(2),  # (N, 2w, H/4, W/4)
            _conv_block(2 * width, 4 * width),
            _conv_block(4 * width, 4 * width),  # a second block at the coarsest grid
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),  # (N, 4w)
        )
        self.head = nn.Linear(4 * width, num_classes)

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.body(x)
        return features, self.head(features)

    def fused_for_inference(self) -> DomainCNN:
        """An eval-only copy with each batch norm folded into its convolution
        (w' = w * gamma / sqrt(var + eps), b' = beta - mean * gamma / sqrt(var + eps)): the same
        function up to float rounding (~1e-6), one pass over the activations fewer per block,
        which roughly halves the CPU time of feature extraction."""
        from torch.nn.utils.fusion import fuse_conv_bn_eval

        fused = copy.deepcopy(self).eval()
        for i, block in enumerate(fused.body):
            if isinstance(block, nn.Sequential):
                conv, bn, relu = block
                fused.body[i] = nn.Sequential(fuse_conv_bn_eval(conv, bn), relu)
        return fused


@dataclass
class ClassifierInfo:
    """What ``classifier.json`` records next to the weights."""

    dataset: str
    arch: dict[str, int]  # DomainCNN constructor arguments
    test_accuracy: float
    n_train: int
    n_test: int
    epochs: int
    seed: int
    train_fingerprint: str  # Dataset.fingerprint() of the training split
    weights_sha256: str  # of the safetensors file's bytes
    content_hash: str  # sha256 of (train fingerprint, arch, weights): names this classifier
    class_names: list[str] | None = None
    format: str = CACHE_FORMAT
    arch_version: int = 1  # files written before the field existed are version 1


def content_hash(train_fingerprint: str, arch: dict[str, int], weights_sha256: str) -> str:
    payload = json.dumps([train_fingerprint, arch, weights_sha256], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _check_dataset(dataset: str) -> None:
    if dataset not in DOMAIN_DATASETS:
        raise ConfigError(
            f"no domain classifier for dataset {dataset!r}; gankit trains them for "
            f"{', '.join(DOMAIN_DATASETS)} (labelled data with a test split). For other images "
            "use --extractor inception:WEIGHTS or pass your own nn.Module."
        )


@torch.no_grad()
def accuracy(net: DomainCNN, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    net.eval()
    device = next(net.parameters()).device
    correct = 0
    for s in range(0, len(x), batch_size):
        _, logits = net(x[s : s + batch_size].to(device))
        correct += int((logits.argmax(1).cpu() == y[s : s + batch_size]).sum())
    return correct / max(1, len(x))


def train_classifier(
    dataset: str,
    *,
    epochs: int | None = None,
    batch_size: int = 128,
    lr: float = 2e-3,
    width: int = 32,
    seed: int = 0,
    limit: int | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
    root: str | None = None,
) -> ClassifierInfo:
    """Train the domain classifier of ``dataset`` on its training split, measure it on the test
    split and write it to the cache. ``limit`` caps the training images (for quick tests).

    Adam with a cosine learning-rate decay to 0 (Loshchilov & Hutter, "SGDR", ICLR 2017)
    reaches its accuracy in a few epochs.
    """
    from gankit.data import load_dataset

    _check_dataset(dataset)
    epochs = DEFAULT_EPOCHS[dataset] if epochs is None else epochs
    if epochs < 1 or batch_size < 1 or width < 1:
        raise ConfigError(
            f"epochs, batch size and width must be >= 1, got {epochs}, {batch_size}, {width}"
        )
    train = load_dataset(dataset, split="train", root=root)
    test = load_dataset(dataset, split="test", root=root)
    x, y = train.x, train.y
    if limit is not None:
        x, y = x[:limit], y[:limit]
    c, h, w = train.shape
    if h != w or h < 4:
        raise DataError(f"{dataset} images are {h}x{w}; the domain CNN needs square images >= 4")
    arch = {
        "in_channels": c,
        "num_classes": len(train.class_names or []) or train.num_classes,
        "width": width,
        "image_size": h,
    }
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
        torch.manual_seed(seed)
        net = DomainCNN(**arch).to(device)
        _fit(net, x, y, epochs, batch_size, lr, seed, progress, desc=f"classifier {dataset}")
    acc = accuracy(net, test.x, test.y)
    return save_classifier(
        net,
        ClassifierInfo(
            dataset=dataset,
            arch=arch,
            test_accuracy=acc,
            n_train=len(x),
            n_test=len(test),
            epochs=epochs,
            seed=seed,
            train_fingerprint=train.fingerprint(),
            weights_sha256="",
            content_hash="",
            class_names=train.class_names,
            arch_version=ARCH_VERSION,
        ),
    )


def _fit(
    net: DomainCNN,
    x: Tensor,
    y: Tensor,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool,
    desc: str,
) -> None:
    from tqdm import tqdm

    device = next(net.parameters()).device
    steps_per_epoch = (len(x) + batch_size - 1) // batch_size
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    order_rng = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    with tqdm(
        total=epochs * steps_per_epoch,
        desc=desc,
        unit="step",
        file=sys.stderr,
        disable=not progress,
        mininterval=0.5,
        dynamic_ncols=True,
    ) as bar:
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=order_rng)
            for s in range(0, len(x), batch_size):
                idx = order[s : s + batch_size]
                _, logits = net(x[idx].to(device))
                loss = loss_fn(logits, y[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    net.eval()


def save_classifier(net: DomainCNN, info: ClassifierInfo) -> ClassifierInfo:
    """Write weights, then the JSON that makes them valid; returns ``info`` with its hashes."""
    folder = classifier_dir(info.dataset)
    folder.mkdir(parents=True, exist_ok=True)
    data = st_save({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()})
    info.weights_sha256 = hashlib.sha256(data).hexdigest()
    info.content_hash = content_hash(info.train_fingerprint, info.arch, info.weights_sha256)
    atomic_write_bytes(folder / WEIGHTS_FILE, data)
    atomic_write_bytes(folder / INFO_FILE, json.dumps(asdict(info), indent=2).encode())
    return info


def is_cached(dataset: str) -> bool:
    folder = classifier_dir(dataset)
    return (folder / INFO_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def read_info(dataset: str) -> ClassifierInfo:
    path = classifier_dir(dataset) / INFO_FILE
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        info = ClassifierInfo(**raw)
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(
            f"{path} is damaged ({exc}); retrain with `gankit extractor train {dataset} --force`."
        ) from None
    if info.format != CACHE_FORMAT:
        raise DataError(
            f"{path} has format {info.format!r}, not {CACHE_FORMAT!r}; retrain with "
            f"`gankit extractor train {dataset} --force`."
        )
    return info


def load_classifier(
    dataset: str, device: str | torch.device = "cpu"
) -> tuple[DomainCNN, ClassifierInfo]:
    """The cached classifier of ``dataset`` in eval mode, checked against its recorded hashes."""
    _check_dataset(dataset)
    if not is_cached(dataset):
        raise ExtractorNotTrained(
            f"the {dataset} domain classifier is not trained yet (looked in "
            f"{classifier_dir(dataset)}); train it with `gankit extractor train {dataset}` "
            "(a few CPU minutes at most)."
        )
    info = read_info(dataset)
    if info.arch_version != ARCH_VERSION:
        raise ExtractorNotTrained(
            f"the cached {dataset} classifier has an older architecture (version "
            f"{info.arch_version}, this gankit uses {ARCH_VERSION}); retrain it with "
            f"`gankit extractor train {dataset} --force`."
        )
    path = classifier_dir(dataset) / WEIGHTS_FILE
    data = path.read_bytes()
    retrain = f"retrain with `gankit extractor train {dataset} --force`."
    if hashlib.sha256(data).hexdigest() != info.weights_sha256 or info.content_hash != (
        content_hash(info.train_fingerprint, info.arch, info.weights_sha256)
    ):
        raise DataError(f"{path} does not match the hash recorded in {INFO_FILE}; {retrain}")
    try:
        net = DomainCNN(**info.arch)
        net.load_state_dict(st_load(data))
    except (SafetensorError, RuntimeError, TypeError) as exc:
        raise DataError(f"{path} cannot be loaded ({exc}); {retrain}") from None
    return net.to(device).eval(), info
