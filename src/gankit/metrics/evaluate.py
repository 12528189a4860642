"""``evaluate``: score samples (a run, an array file, an image folder) against a reference.

DESIGN principle 7 (after torch-fidelity's ``calculate_metrics``): metrics are independent of
training. A *source* gives the generated samples, a *reference* the real ones, an *extractor*
maps both to features, and the feature metrics of this package compare them.

Sources: a run directory (``n`` samples from its generator, EMA weights when kept), a ``.npy``
/ ``.npz`` file in the ``gankit sample`` layout, a folder of images, or an array / tensor.
References: ``None`` (the run's own dataset, its test split where it has one), a dataset spec
``name[:split]`` (``fashion-mnist:test``, ``digits``, ``ring``), a file or a folder.

Evaluation streams: :func:`evaluate` reads the samples chunk by chunk (a run's generator
:data:`STREAM_CHUNK` at a time with the same noise as one ``G.sample(n, seed)``, a ``.npy``
through a memory map, a folder a few files at a time) and keeps only their features and class
probabilities, so memory grows with n by the features alone (``4 * width`` floats a sample
for the domain classifier), never by the images. Raw samples are kept only for a metric that
needs them (``mode_coverage``, on 2-D vectors).

Reference features are cached in ``<cache>/refstats/`` under the key (dataset fingerprint,
extractor cache id, n, subset seed): the fingerprint hashes the data bytes and the cache id
names the extractor's exact weights, so changed data or a retrained classifier never reuse
stale statistics.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor, nn

from gankit.config import Config
from gankit.data import DATASETS, Dataset, load_dataset
from gankit.errors import ConfigError, DataError
from gankit.metrics.classifier import (
    DOMAIN_DATASETS,
    cache_root,
    classifier_dir,
    is_cached,
    train_classifier,
)
from gankit.metrics.extractors import DEFAULT_BATCH, FeatureExtractor, Features, build_extractor
from gankit.metrics.fid import RunningStats
from gankit.metrics.inception_score import SPLITS as IS_SPLITS  # noqa: F401  (re-exported)
from gankit.metrics.kid import KID_SUBSET_SIZE, KID_SUBSETS  # noqa: F401  (re-exported)
from gankit.metrics.registry import (
    ALIASES,  # noqa: F401  (re-exported)
    CLASSIFIER,
    MODE_CENTRES,
    SAMPLES,
    TRAIN_FEATURES,
    MetricInputs,
    compute_metric,
    get_metric,
    metric_names,
    parse_metric_names,
)
from gankit.registry import close_matches
from gankit.runs import RunDir, atomic_write_bytes, load_generator

#: Metrics that score generated samples against a reference (registered with needs the
#: Evaluator provides); the paired ones (psnr, ssim, dice) go through ``score_pairs``.
METRIC_NAMES = tuple(metric_names("samples"))
IMAGE_DEFAULT = ("fid", "kid", "precision_recall", "density_coverage", "is", "class_coverage")
VECTOR_DEFAULT = ("mode_coverage", "fid", "kid", "precision_recall", "density_coverage")
NEEDS_CLASSIFIER = tuple(m for m in METRIC_NAMES if CLASSIFIER in get_metric(m).needs)
REFSTATS_FORMAT = "gankit-refstats-1"
#: Seed of the random subset taken when a reference or sample file holds more than ``n`` items;
#: fixed, so the same (data, n) always gives the same subset and hence the same cache entry.
SUBSET_SEED = 0
#: Samples a streamed source reads at a time (a run draws them as ``G.sample`` does, whose
#: default batch this is, so the values equal one ``G.sample(n, seed)``).
STREAM_CHUNK = 1000


def parse_metrics(metrics: str | Sequence[str] | None) -> list[str] | None:
    """``"fid,kid"`` or ``["fid", "kid"]`` -> checked names of sample-set metrics (``prdc``
    expands, duplicates drop); None/"" -> None. Unknown names, and metrics that need something
    else (pairs, labels), are ConfigErrors that say what to use instead."""
    return parse_metric_names(metrics, "samples")


# --- sources ---------------------------------------------------------------------------------
@dataclass
class SampleSet:
    """Generated samples: float32 images (N, C, H, W) in [-1, 1] or vectors (N, D)."""

    x: Tensor
    kind: str
    description: str


def _subset_index(total: int, n: int) -> np.ndarray | None:
    """Sorted indices of the fixed-seed random subset of ``n`` of ``total`` items; None when
    ``total <= n`` (all of them, in order)."""
    if total <= n:
        return None
    return np.sort(np.random.default_rng(SUBSET_SEED).choice(total, n, replace=False))


def _subset(x: Tensor, n: int) -> Tensor:
    """At most ``n`` rows: a fixed-seed random subset in original order when there are more."""
    keep = _subset_index(len(x), n)
    return x if keep is None else x[torch.from_numpy(keep)]


def _check_array(t: Tensor) -> str:
    """The kind ("image" or "vector") of an in-memory sample array; DataError if it is neither."""
    if t.dtype != torch.uint8 and not t.is_floating_point():
        raise DataError(f"samples of dtype {t.dtype}: give uint8 images or float32 data")
    if t.ndim not in (2, 3, 4):
        raise DataError(
            f"samples of shape {tuple(t.shape)}: give images (N, C, H, W) or vectors (N, D)"
        )
    return "vector" if t.ndim == 2 else "image"


def _as_samples(t: Tensor) -> Tensor:
    """A checked array (or chunk of one) -> float32 CPU images (N, C, H, W) or vectors."""
    if t.dtype == torch.uint8:
        from gankit.data import to_unit_range

        t = to_unit_range(t)
    if t.ndim == 3:
        t = t.unsqueeze(1)
    return t.detach().float().cpu()


def _from_array(x: Tensor | np.ndarray, description: str) -> SampleSet:
    t = torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x.detach()
    kind = _check_array(t)
    return SampleSet(_as_samples(t), kind, description)


@dataclass
class SampleStream:
    """Generated samples read a chunk at a time: ``chunks()`` yields float32 tensors (images
    (B, C, H, W) in [-1, 1] or vectors (B, D)) that, concatenated, are the :class:`SampleSet`
    of :func:`load_source`; no more than one chunk is held at once."""

    n: int
    kind: str
    description: str
    chunks: Callable[[], Iterator[Tensor]]

    def collect(self) -> SampleSet:
        """All samples in one tensor (what :func:`load_source` returns)."""
        parts = list(self.chunks())
        return SampleSet(torch.cat(parts), self.kind, self.description)


def _tensor_stream(t: Tensor, description: str) -> SampleStream:
    kind = _check_array(t)

    def chunks() -> Iterator[Tensor]:
        for s in range(0, len(t), STREAM_CHUNK):
            yield _as_samples(t[s : s + STREAM_CHUNK])

    return SampleStream(len(t), kind, description, chunks)


def _file_stream(path: Path, n: int) -> SampleStream:
    """A .npy file through a read-only memory map, a .npz member from memory (zip members
    cannot be mapped; uint8 images stay uint8 until their chunk is converted); each chunk goes
    through the same conversion as the whole file in ``load_dataset("array")``. Files that are
    not plain numeric arrays of the accepted shapes take that loader, for its exact errors."""
    from gankit.data.arrays import labels_to_tensor, read_arrays, to_tensor

    data = None
    if path.suffix.lower() == ".npy":
        try:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
            if isinstance(mapped, np.ndarray) and not mapped.dtype.hasobject:
                data = mapped
            elif hasattr(mapped, "close"):
                mapped.close()  # a zip under a .npy name: the loader below reads it
        except (ValueError, OSError, EOFError, SyntaxError):
            data = None  # damaged, pickled, truncated: the loader below says which
    else:
        arr, labels = read_arrays(path)
        if labels is not None:
            labels_to_tensor(path, labels, len(arr))
        data = arr
    if data is None or not _streamable(path, data):
        ds = load_dataset("array", root=path)  # raises its one-line error, or loads a file
        return _tensor_stream(_subset(ds.x, n), str(path))  # this path never meant to stream
    keep = _subset_index(len(data), n)
    total = len(data) if keep is None else len(keep)
    kind = "vector" if data.ndim == 2 else "image"

    def chunks() -> Iterator[Tensor]:
        for s in range(0, total, STREAM_CHUNK):
            part = data[s : s + STREAM_CHUNK] if keep is None else data[keep[s : s + STREAM_CHUNK]]
            yield to_tensor(path, np.array(part))[0]  # np.array: a private, writable copy

    return SampleStream(total, kind, str(path), chunks)


def _streamable(path: Path, data: np.ndarray) -> bool:
    """Whether ``to_tensor`` accepts the whole of ``data``, asked a chunk at a time (so a
    mapped file is never read into memory at once, and the rules stay in ``to_tensor``
    alone): the range and finiteness of the whole are those of its chunks."""
    from gankit.data.arrays import to_tensor

    if data.size == 0:
        return False
    try:
        for s in range(0, len(data), STREAM_CHUNK):
            to_tensor(path, np.array(data[s : s + STREAM_CHUNK]))  # a copy: it writes in place
    except DataError:
        return False
    return True


def _folder_stream(path: Path, n: int) -> SampleStream:
    """A folder of images decoded a chunk of files at a time, exactly as
    ``load_dataset("folder")`` decodes them all."""
    from gankit.data.folder import _target_size, decode_all, discover, probe
    from gankit.data.images import to_unit_range

    files, _, _ = discover(path)
    sizes, colour = probe(files)
    size = _target_size(path, files, sizes, None)
    channels = 3 if colour else 1
    keep = _subset_index(len(files), n)
    chosen = files if keep is None else [files[i] for i in keep]

    def chunks() -> Iterator[Tensor]:
        for s in range(0, len(chosen), STREAM_CHUNK):
            pixels = decode_all(chosen[s : s + STREAM_CHUNK], size, channels)
            yield to_unit_range(pixels).permute(0, 3, 1, 2).contiguous()

    return SampleStream(len(chosen), "image", str(path), chunks)


def open_source(source: Any, n: int, seed: int = 0) -> tuple[SampleStream, Config | None]:
    """The samples to score as a :class:`SampleStream` and, for a run directory, its config.

    Everything that can be checked without reading the samples is checked here (errors come
    before any work); the chunks equal :func:`load_source`'s samples value for value."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    if isinstance(source, (np.ndarray, Tensor)):
        t = torch.as_tensor(source) if isinstance(source, np.ndarray) else source.detach()
        return _tensor_stream(_subset(t, n), "array"), None
    path = Path(source).expanduser()
    if (path / "config.json").is_file():
        cfg = RunDir.open(path).config()
        G = load_generator(path)
        description = f"run {path} (step {G.step}, seed {seed})"
        # G.sample's own loop, one chunk at a time: the same noise draws in the same order.
        return SampleStream(
            n, G.kind, description, lambda: G.sample_chunks(n, seed, STREAM_CHUNK)
        ), cfg
    if path.is_dir():
        return _folder_stream(path, n), None
    if path.suffix.lower() in (".npy", ".npz"):
        if not path.is_file():
            raise DataError(f"sample file {path} does not exist")
        return _file_stream(path, n), None
    raise DataError(
        f"{path} is not a run directory, a .npy/.npz file or an image folder; "
        "give the --out of `gankit train` or of `gankit sample`"
    )


def load_source(source: Any, n: int, seed: int = 0) -> tuple[SampleSet, Config | None]:
    """The samples to score, all in memory, and, for a run directory, its config.

    :func:`evaluate` streams them instead (:func:`open_source`); this is the same samples in
    one tensor, for callers that want them."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    if isinstance(source, (np.ndarray, Tensor)):
        return _from_array(_subset(torch.as_tensor(source), n), "array"), None
    path = Path(source).expanduser()
    if (path / "config.json").is_file():
        cfg = RunDir.open(path).config()
        G = load_generator(path)
        x = G.sample(n, seed=seed)
        return SampleSet(x, G.kind, f"run {path} (step {G.step}, seed {seed})"), cfg
    if path.is_dir():
        ds = load_dataset("folder", root=path)
    elif path.suffix.lower() in (".npy", ".npz"):
        if not path.is_file():
            raise DataError(f"sample file {path} does not exist")
        ds = load_dataset("array", root=path)
    else:
        raise DataError(
            f"{path} is not a run directory, a .npy/.npz file or an image folder; "
            "give the --out of `gankit train` or of `gankit sample`"
        )
    return SampleSet(_subset(ds.x, n), ds.kind, str(path)), None


def rebatch(chunks: Iterable[Tensor], size: int) -> Iterator[Tensor]:
    """Chunks of any sizes -> batches of exactly ``size`` rows (the last may be shorter), cut
    where slicing the concatenation would cut: the extractor then sees the same batches as
    on the whole tensor, so features are bit for bit the same."""
    if size < 1:
        raise ConfigError(f"batch size must be >= 1, got {size}")
    pending: list[Tensor] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held < size:
            continue
        joined = torch.cat(pending) if len(pending) > 1 else pending[0]
        cut = held - held % size
        for s in range(0, cut, size):
            yield joined[s : s + size]
        rest = joined[cut:]
        pending, held = ([rest], len(rest)) if len(rest) else ([], 0)
    if held:
        yield torch.cat(pending) if len(pending) > 1 else pending[0]


# --- references ------------------------------------------------------------------------------
@dataclass
class Reference:
    """Real data to compare with; ``train`` loads the training split (memorisation check)."""

    dataset: Dataset
    description: str
    train: Callable[[], Dataset] | None = None


def _load_split(name: str, split: str | None, **kw: Any) -> tuple[Dataset, str]:
    """``split`` or, when None, "test" falling back to "train" for sets without one."""
    if split is not None:
        return load_dataset(name, split=split, **kw), split
    try:
        return load_dataset(name, split="test", **kw), "test"
    except ConfigError:
        return load_dataset(name, split="train", **kw), "train"


def load_reference(spec: str | os.PathLike | None, run_cfg: Config | None, n: int) -> Reference:
    """Resolve a reference spec (see the module docstring)."""
    if spec is None or spec == "":
        if run_cfg is None:
            raise ConfigError(
                "give --reference (a dataset such as fashion-mnist:test, a .npy/.npz "
                "file or an image folder) when the source is not a run directory"
            )
        d = run_cfg.data
        kw = dict(
            root=d.root,
            image_size=d.image_size,
            channels=d.channels,
            n_samples=n,
            seed=run_cfg.train.seed,
            download=d.download,
        )
        ds, split = _load_split(d.name, None, **kw)
        # The memorisation check needs the exact training set: for toys, all n_samples of it.
        train_kw = {**kw, "n_samples": d.n_samples}
        train = (
            None if split == "train" else (lambda: load_dataset(d.name, split="train", **train_kw))
        )
        return Reference(ds, f"{d.name}:{split} (the run's data)", train)
    text = str(spec)
    name, _, split = text.partition(":")
    if name in DATASETS and name not in ("folder", "array"):
        kw = dict(n_samples=n)
        try:
            ds, used = _load_split(name, split or None, **kw)
        except DataError as exc:  # the loader's advice is for `train`, which takes data.root
            from gankit.data.mnist import cache_dir

            advice = (
                str(exc)
                .replace("put the files in a directory and pass data.root=DIR", "put them in")
                .replace("pass data.root=DIR", "put them in")
                .replace("put them in", f"put the files in {cache_dir(name)}", 1)
                .replace(
                    "allow download with data.download=true",
                    "fetch them once with `gankit train` and --set data.download=true",
                )
            )
            raise DataError(
                advice + "; or give --reference a folder or .npy of real data"
            ) from None
        train = None if used != "test" else (lambda: load_dataset(name, split="train", **kw))
        return Reference(ds, f"{name}:{used}", train)
    path = Path(text).expanduser()
    if path.is_dir():
        return Reference(load_dataset("folder", root=path), str(path))
    if path.is_file():
        return Reference(load_dataset("array", root=path), str(path))
    raise ConfigError(
        f"unknown reference {text!r}; give a dataset (e.g. fashion-mnist:test, digits, ring; "
        "see `gankit list`), a .npy/.npz file or an image folder."
        + close_matches(name, DATASETS.names())
    )


# --- extractors ------------------------------------------------------------------------------
def _inception_available() -> bool:
    from gankit.metrics.inception import default_weights

    try:
        default_weights()
    except DataError:
        return False
    return True


def resolve_extractor(
    spec: str | nn.Module | FeatureExtractor,
    kind: str,
    dataset_name: str,
    device: str | torch.device = "cpu",
    train_missing: bool = True,
) -> FeatureExtractor:
    """The extractor for ``spec``; ``"auto"`` picks raw data for vectors, the domain classifier
    for digits / MNIST / Fashion-MNIST images, and InceptionV3 when its weights are known.

    A domain classifier not cached yet is trained once on first use (one notice line on
    stderr, then a progress bar; a few CPU minutes at most), as torch-fidelity prepares its
    weights on first use; ``train_missing=False`` refuses instead."""
    if isinstance(spec, str) and spec == "auto":
        if kind == "vector":
            spec = "raw"
        elif dataset_name in DOMAIN_DATASETS:
            spec = f"domain:{dataset_name}"
        elif _inception_available():
            spec = "inception"
        else:
            raise ConfigError(
                f"no default feature extractor for {dataset_name} images; pass --extractor "
                "inception:WEIGHTS (standard FID), domain:DATASET or raw (pixels)"
            )
    if isinstance(spec, str) and spec.startswith("domain:") and train_missing:
        dataset = spec.partition(":")[2]
        if dataset in DOMAIN_DATASETS and not is_cached(dataset):
            print(
                f"gankit: the {dataset} domain classifier is not cached yet; training it once "
                f"into {classifier_dir(dataset)} (a few CPU minutes at most)",
                file=sys.stderr,
                flush=True,
            )
            train_classifier(dataset)
    return build_extractor(spec, device)


# --- reference statistics cache --------------------------------------------------------------
@dataclass
class RefStats:
    """Reference features and what the metrics need of them."""

    features: Tensor  # (N, D) float32
    mean: np.ndarray  # (D,) float64
    cov: np.ndarray  # (D, D) float64, unbiased
    predicted: Tensor | None  # (N,) classifier labels, when the extractor has a softmax


def _stats_key(fingerprint: str, cache_id: str, n: int) -> dict[str, Any]:
    return {
        "format": REFSTATS_FORMAT,
        "fingerprint": fingerprint,
        "extractor": cache_id,
        "n": n,
        "subset_seed": SUBSET_SEED,
    }


def refstats_path(key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return cache_root() / "refstats" / f"{digest[:32]}.safetensors"


def _read_refstats(path: Path, key: dict[str, Any]) -> RefStats | None:
    try:
        raw = path.read_bytes()
        tensors = st_load(raw)
        header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
        stored = json.loads(header["__metadata__"]["key"])
    except (OSError, SafetensorError, ValueError, KeyError):
        return None  # unreadable: recomputed and rewritten
    if stored != key:
        return None
    return RefStats(
        tensors["features"],
        tensors["mean"].numpy(),
        tensors["cov"].numpy(),
        tensors.get("predicted"),
    )


def reference_stats(
    ds: Dataset,
    extractor: FeatureExtractor,
    n: int | None,
    *,
    use_cache: bool = True,
    batch_size: int = DEFAULT_BATCH,
) -> RefStats:
    """Features of (a fixed subset of at most ``n`` items of) ``ds``, cached on disk."""
    n_used = len(ds) if n is None else min(n, len(ds))
    # Raw features cost nothing to recompute; caching them would only fill the disk.
    cache = use_cache and extractor.cache_id != "raw"
    key = _stats_key(ds.fingerprint(), extractor.cache_id, n_used) if cache else {}
    if cache and (path := refstats_path(key)).is_file():
        found = _read_refstats(path, key)
        if found is not None:
            return found
    feats = extractor(_subset(ds.x, n_used), batch_size)
    mean, cov = RunningStats().update(feats.features).compute()
    stats = RefStats(feats.features, mean, cov, feats.predicted)
    if cache:
        tensors = {
            "features": stats.features.contiguous(),
            "mean": torch.from_numpy(mean),
            "cov": torch.from_numpy(cov),
        }
        if stats.predicted is not None:
            tensors["predicted"] = stats.predicted
        path = refstats_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(
            path, st_save(tensors, metadata={"key": json.dumps(key, sort_keys=True)})
        )
    return stats


# --- scoring -------------------------------------------------------------------------------
class _Rows:
    """Batches of rows gathered into one tensor, preallocated when the total is known: each
    batch's own small tensor is then freed at once, instead of staying between the large
    transient blocks of the generator and the extractor, where it kept the heap from being
    reused (3,000 samples of a run: peaks of 510-626 MiB over four runs without this, 509 MiB
    in each of three with it)."""

    def __init__(self, total: int | None):
        self.total, self.at = total, 0
        self.parts: list[Tensor] = []
        self.out: Tensor | None = None

    def add(self, t: Tensor | None) -> None:
        if t is None:
            return
        if self.out is None and self.total is not None and not self.parts:
            self.out = t.new_empty((self.total, *t.shape[1:]))
        if self.out is not None and self.at + len(t) <= len(self.out):
            self.out[self.at : self.at + len(t)] = t
        else:  # no total given, or more rows than announced: plain concatenation
            if self.out is not None:
                self.parts, self.out = [self.out[: self.at]], None
            self.parts.append(t)
        self.at += len(t)

    def result(self) -> Tensor | None:
        if self.out is not None:
            return self.out[: self.at]
        return torch.cat(self.parts) if self.parts else None


class Evaluator:
    """A reference and an extractor, prepared once; :meth:`score` rates one set of samples.

    Training's metrics callback keeps one, so reference features are extracted once per run.
    """

    def __init__(
        self,
        reference: Reference,
        extractor: FeatureExtractor,
        metrics: Sequence[str] | None,
        *,
        n: int,
        batch_size: int = DEFAULT_BATCH,
        use_cache: bool = True,
    ):
        self.reference, self.extractor, self.n = reference, extractor, n
        self.batch_size, self.use_cache = batch_size, use_cache
        kind = reference.dataset.kind
        self.explicit = metrics is not None
        self.metrics = (
            parse_metrics(list(metrics))
            if metrics
            else list(IMAGE_DEFAULT if kind == "image" else VECTOR_DEFAULT)
        )
        # What each metric needs (its registered requirements) against what this reference
        # and extractor can give: explicit choices fail now, defaults quietly skip.
        no_probs = extractor.has_probs is False
        no_modes = "centers" not in reference.dataset.info
        for m in self.metrics:
            needs = get_metric(m).needs
            if CLASSIFIER in needs and no_probs and self.explicit:
                raise ConfigError(
                    f"metric {m!r} needs a classifier extractor (domain:DATASET or "
                    f"inception), not {extractor.name!r}"
                )
            if MODE_CENTRES in needs and no_modes and self.explicit:
                raise ConfigError(f"{m} needs a Gaussian-mixture reference (ring, grid)")
            if TRAIN_FEATURES in needs and reference.train is None:
                raise ConfigError(
                    f"{m} needs held-out real data and the training data: "
                    "a run directory, or a reference dataset's test split"
                )
        if not self.explicit:
            self.metrics = [
                m
                for m in self.metrics
                if not (CLASSIFIER in get_metric(m).needs and no_probs)
                and not (MODE_CENTRES in get_metric(m).needs and no_modes)
            ]
        self._ref: RefStats | None = None
        self._train: RefStats | None = None

    @property
    def ref(self) -> RefStats:
        if self._ref is None:
            self._ref = reference_stats(
                self.reference.dataset,
                self.extractor,
                self.n,
                use_cache=self.use_cache,
                batch_size=self.batch_size,
            )
        return self._ref

    def _check_kind(self, x_kind: str) -> None:
        ref_kind = self.reference.dataset.kind
        if x_kind != ref_kind:
            raise DataError(
                f"the samples are {x_kind}s but the reference holds {ref_kind}s; "
                "choose a matching --reference"
            )

    def score(self, x: Tensor | np.ndarray) -> dict[str, Any]:
        """Every chosen metric of the samples ``x`` (images or vectors) as a flat dict."""
        self._check_kind("image" if x.ndim == 4 else "vector")
        return self._score_features(self.extractor(x, self.batch_size), x)

    def score_stream(
        self, samples: SampleStream | Iterable[Tensor], kind: str | None = None
    ) -> dict[str, Any]:
        """:meth:`score` of samples that arrive in chunks (a :class:`SampleStream`, or any
        iterable of tensors with ``kind`` given): the same values as :meth:`score` of their
        concatenation, holding only the features (and class probabilities) of all of them,
        never all the samples. Raw samples are kept only when a chosen metric needs them
        (``mode_coverage``: 2-D vectors)."""
        if isinstance(samples, SampleStream):
            kind, chunks = samples.kind, samples.chunks()
        elif kind is None:
            raise ConfigError("score_stream of plain chunks needs their kind, image or vector")
        else:
            chunks = iter(samples)
        self._check_kind(kind)
        keep = any(SAMPLES in get_metric(m).needs for m in self.metrics)
        total = samples.n if isinstance(samples, SampleStream) else None
        feats, probs, kept = _Rows(total), _Rows(total), _Rows(total)
        for batch in rebatch(chunks, self.batch_size):
            f = self.extractor(batch, self.batch_size)  # one batch: the extractor's own cut
            feats.add(f.features)
            probs.add(f.probs)
            if keep:
                kept.add(batch)
        if feats.result() is None:
            raise DataError("no images to extract features from (empty input)")
        fake = Features(feats.result(), probs.result())
        return self._score_features(fake, kept.result())

    def _score_features(
        self, fake: Features, samples: Tensor | np.ndarray | None
    ) -> dict[str, Any]:
        """The chosen metrics from the samples' features (and the samples where kept)."""
        ref = self.ref
        info = self.reference.dataset.info
        inputs = MetricInputs(
            features=fake.features,
            ref_features=ref.features,
            ref_mean=ref.mean,
            ref_cov=ref.cov,
            probs=fake.probs,
            predicted=fake.predicted,
            ref_predicted=ref.predicted,
            samples=samples,
            centers=info.get("centers"),
            std=info.get("std"),
            train_features=self._train_features if self.reference.train is not None else None,
            chosen=tuple(self.metrics),
        )
        out: dict[str, Any] = {"n_reference": int(ref.features.shape[0])}
        for m in self.metrics:
            if CLASSIFIER in get_metric(m).needs and (fake.probs is None or ref.predicted is None):
                if self.explicit:
                    raise DataError(
                        f"metric {m!r} needs class probabilities, but "
                        f"{self.extractor.name} returns features only"
                    )
                continue
            out.update(compute_metric(m, inputs))
        return {k: _jsonable(v) for k, v in out.items()}

    def _train_features(self) -> Tensor:
        """Features of the whole training split (memorisation), extracted once per Evaluator."""
        if self._train is None:
            self._train = reference_stats(
                self.reference.train(),
                self.extractor,
                None,
                use_cache=self.use_cache,
                batch_size=self.batch_size,
            )
        return self._train.features


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def evaluate(
    source: Any,
    reference: str | os.PathLike | None = None,
    *,
    metrics: str | Sequence[str] | None = None,
    n: int = 2000,
    extractor: str | nn.Module | FeatureExtractor = "auto",
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    device: str | torch.device = "cpu",
    train_extractor: bool = True,
    use_cache: bool = True,
) -> dict[str, Any]:
    """Score ``source`` against ``reference`` and return one flat dict (JSON-ready).

    ``metrics``: names from :data:`METRIC_NAMES` (comma string or list); None picks the
    defaults for the data (:data:`IMAGE_DEFAULT` or :data:`VECTOR_DEFAULT`, minus those the
    reference or extractor cannot support). ``n`` samples are drawn from a run, and at most
    ``n`` are used of a file, folder or reference. ``train_extractor`` trains a missing domain
    classifier instead of raising :class:`~gankit.metrics.classifier.ExtractorNotTrained`.
    """
    chosen = parse_metrics(metrics)
    samples, run_cfg = open_source(source, n, seed)
    ref = load_reference(reference, run_cfg, n)
    ex = resolve_extractor(extractor, ref.dataset.kind, ref.dataset.name, device, train_extractor)
    ev = Evaluator(ref, ex, chosen, n=n, batch_size=batch_size, use_cache=use_cache)
    out: dict[str, Any] = {
        "source": samples.description,
        "reference": ref.description,
        "extractor": ex.name,
        "n": int(samples.n),
    }
    out.update(ev.score_stream(samples))  # a chunk at a time: memory flat in n
    return out
