"""Scores of image-to-image runs (Pix2Pix, CycleGAN, SRGAN, de-raining) on held-out data.

``evaluate_translation(run)`` runs the run's exported translator on its dataset's test split
and compares each output with what it should be:

- paired data (a target ``b`` for every input): PSNR and SSIM of output against target (a
  border of the scale factor cropped for super-resolution, RGB scored on its BT.601 luma: the
  conventions of SR tables, e.g. Ledig et al. 2017, Sec. 4.1), the same for the input itself
  where it has the target's shape (the "do nothing" baseline, e.g. the rainy photograph);
  with a domain classifier, the accuracy of its predictions on the outputs against the true
  class (the "FCN-score" idea of Isola et al. 2017, Sec. 4.2, with gankit's domain classifier
  in place of the FCN), the same on the real targets (the ceiling), and FID of outputs
  against targets.
- unpaired data (CycleGAN's two domains): the share of translated A images the classifier
  puts in B's class and vice versa, FID of each direction against the real images of the
  other domain, and the cycle reconstruction error |G_BA(G_AB(a)) - a| (Zhu et al. 2017,
  Eq. 2) on [-1, 1], per direction.

``score_pair_files`` scores two arrays or folders of images (e.g. ``gankit apply`` outputs
against references) with the paired metrics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.data import Dataset
from gankit.errors import ConfigError, DataError
from gankit.metrics.classifier import DOMAIN_DATASETS
from gankit.metrics.fid import fid_from_features
from gankit.metrics.paired import score_pairs
from gankit.runs import RunDir, load_model, run_exports

#: Translation tasks built from a dataset the domain classifiers know.
TASK_DOMAINS = {
    "fashion-edges": "fashion-mnist",
    "fashion-x4": "fashion-mnist",
    "sneaker-boot": "fashion-mnist",
}


def domain_of(data: Dataset) -> str | None:
    """The domain-classifier dataset of a translation task's images, or None."""
    domain = data.info.get("domain") or TASK_DOMAINS.get(data.name)
    return domain if domain in DOMAIN_DATASETS else None


def is_translation_run(run_dir: str | os.PathLike) -> bool:
    """Whether a run directory holds an image-to-image translator (an image ``apply`` map)."""
    path = Path(run_dir).expanduser()
    if not (path / "config.json").is_file():
        return False
    try:
        e = run_exports(path).get("apply")
    except Exception:  # noqa: BLE001 - no readable checkpoint: not ours to judge here
        return False
    return e is not None and e.kind == "map" and e.output.get("kind") == "image"


def _test_data(cfg: Any, split: str | None) -> tuple[Dataset, str]:
    """The run's dataset, ``split`` or test falling back to train (as `gankit eval` does)."""
    from gankit.metrics.evaluate import _load_split

    d = cfg.data
    kw = dict(root=d.root, image_size=d.image_size, channels=d.channels, seed=cfg.train.seed)
    return _load_split(d.name, split, **kw)


def _extractor(spec: str, domain: str | None, device: Any, train_missing: bool):
    from gankit.metrics.evaluate import resolve_extractor

    if spec == "auto" and domain is None:
        return None  # no classifier knows these images: pixel metrics only
    return resolve_extractor(spec, "image", domain or "", device, train_missing)


def _accuracy(probs: Tensor | None, want: Tensor | int) -> float | None:
    if probs is None:
        return None
    return float((probs.argmax(1) == want).double().mean())


def _paired(model, data: Dataset, n: int, ex, batch_size: int) -> dict[str, Any]:
    x, b = data.x[:n], data.fields["b"][:n]
    out = model(x, batch_size=batch_size).clamp(-1.0, 1.0)
    crop = int(data.info.get("scale", 0))  # SR tables crop a border of the scale factor
    rgb = out.shape[1] == 3
    res: dict[str, Any] = {"crop": crop, "y_channel": rgb}
    res.update(score_pairs(out, b, ("psnr", "ssim"), crop=crop, y_channel=rgb))
    if x.shape == b.shape:  # the input itself as the output: the baseline to beat
        base = score_pairs(x, b, ("psnr", "ssim"), crop=crop, y_channel=rgb)
        res.update({f"input_{k}": v for k, v in base.items()})
    if ex is not None:
        fo, fb = ex(out, batch_size), ex(b, batch_size)
        res["fid"] = fid_from_features(fo.features, fb.features)
        if data.y is not None and fo.probs is not None:
            y = data.y[:n]
            res["class_accuracy"] = _accuracy(fo.probs, y)
            res["class_accuracy_targets"] = _accuracy(fb.probs, y)
    return res


def _unpaired(run_dir, model, data: Dataset, n: int, ex, batch_size: int, ema: bool):
    if "apply_ba" not in run_exports(run_dir):
        raise ConfigError(f"{run_dir} translates one way only; unpaired scores need both ways")
    back = load_model(run_dir, "apply_ba", ema=ema, device=model.device)
    a, b = data.x[:n], data.unpaired["b"][:n]
    ab = model(a, batch_size=batch_size).clamp(-1.0, 1.0)
    ba = back(b, batch_size=batch_size).clamp(-1.0, 1.0)
    res: dict[str, Any] = {
        "cycle_l1_a": float((back(ab, batch_size=batch_size) - a).abs().mean()),  # Eq. 2
        "cycle_l1_b": float((model(ba, batch_size=batch_size) - b).abs().mean()),
    }
    res["cycle_l1"] = (res["cycle_l1_a"] + res["cycle_l1_b"]) / 2
    if ex is not None:
        f_ab, f_ba, f_a, f_b = (ex(t, batch_size) for t in (ab, ba, a, b))
        res["fid_a2b"] = fid_from_features(f_ab.features, f_b.features)
        res["fid_b2a"] = fid_from_features(f_ba.features, f_a.features)
        classes = data.info.get("classes")
        if classes and f_ab.probs is not None:
            res["a2b_class_accuracy"] = _accuracy(f_ab.probs, int(classes["b"]))
            res["b2a_class_accuracy"] = _accuracy(f_ba.probs, int(classes["a"]))
            res["real_a_class_accuracy"] = _accuracy(f_a.probs, int(classes["a"]))
            res["real_b_class_accuracy"] = _accuracy(f_b.probs, int(classes["b"]))
    return res


def evaluate_translation(
    run_dir: str | os.PathLike,
    *,
    n: int = 2000,
    split: str | None = None,
    extractor: str = "auto",
    device: str | torch.device = "cpu",
    batch_size: int = 250,
    train_extractor: bool = True,
    ema: bool = True,
) -> dict[str, Any]:
    """Scores of an image-to-image run on ``n`` items of its dataset's ``split`` (default:
    test, else train); see the module docstring for what is measured. ``extractor`` "auto"
    uses the domain classifier of the task's images where there is one (trained once on first
    use unless ``train_extractor`` is False) and otherwise reports pixel metrics only."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    cfg = RunDir.open(run_dir).config()
    data, used = _test_data(cfg, split)
    model = load_model(run_dir, "apply", ema=ema, device=device)
    domain = domain_of(data)
    ex = _extractor(extractor, domain, device, train_extractor)
    res: dict[str, Any] = {
        "source": f"run {run_dir} (step {model.step})",
        "reference": f"{data.name}:{used}",
        "extractor": None if ex is None else ex.name,
    }
    if "b" in data.fields:
        res.update(_paired(model, data, n, ex, batch_size))
        res["n"] = min(n, len(data))
    elif "b" in data.unpaired:
        res.update(_unpaired(run_dir, model, data, n, ex, batch_size, ema))
        res["n"] = min(n, len(data), len(data.unpaired["b"]))
    else:
        raise DataError(
            f"{data.name} has no targets (field b): translation scores need paired or unpaired "
            "data; score samples with --reference instead"
        )
    return res


def _images(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """uint8 (N, C, H, W) from a .npy or a folder of images (and the folder's file names)."""
    if path.is_dir():
        from gankit.data.folder import images_under, open_image

        files = images_under(path)
        if not files:
            raise DataError(f"no PNG/JPEG images in {path}")
        arrays = []
        for f in files:
            with open_image(f) as im:
                a = np.asarray(im.convert("RGB" if im.mode not in ("L", "1") else "L"))
            arrays.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
        if len({a.shape for a in arrays}) > 1:
            raise DataError(f"the images in {path} differ in size; score same-sized images")
        return np.stack(arrays), [str(f.relative_to(path)) for f in files]
    if path.suffix.lower() != ".npy" or not path.is_file():
        raise DataError(f"{path}: give a .npy of uint8 images (N, C, H, W) or a folder of images")
    try:
        return np.load(path, allow_pickle=False), None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as a .npy array ({exc})") from None


def score_pair_files(
    outputs: str | os.PathLike,
    targets: str | os.PathLike,
    metrics: Any = ("psnr", "ssim"),
    *,
    crop: int = 0,
    y_channel: bool = False,
) -> dict[str, Any]:
    """Paired metrics of two .npy files or folders of images, matched item by item (folders:
    by relative file name, which must be the same in both)."""
    o, o_names = _images(Path(outputs).expanduser())
    t, t_names = _images(Path(targets).expanduser())
    if o_names is not None and t_names is not None and o_names != t_names:
        missing = sorted(set(o_names) ^ set(t_names))
        raise DataError(
            f"{outputs} and {targets} do not hold the same file names ({len(missing)} differ, "
            f"e.g. {missing[0]}); each output is scored against the target of the same name"
        )
    res: dict[str, Any] = {"source": str(outputs), "reference": str(targets), "n": len(o)}
    res.update({"crop": crop, "y_channel": y_channel})
    res.update(score_pairs(o, t, metrics, crop=crop, y_channel=y_channel))
    return res
