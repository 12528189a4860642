"""``gankit apply``: run a trained run's input-to-output model on the user's inputs.

Inputs (untrusted, DESIGN "Contracts"): a ``.npy`` array (images uint8 (N, C, H, W); vectors
float (N, D)), one image file, or a folder of images. Image files open with Pillow's
decompression-bomb limit on; sizes and channel counts are checked against what the model
takes. In a folder a bad file is named on one line and skipped, and the rest is processed;
a single bad input file writes nothing.

Outputs are of the same kind as the input: a ``.npy`` (images uint8 (N, C, H, W); vectors
and latent codes float32 (N, d)), one image file, or a folder of PNGs named like the inputs.
Masks (an image output declaring ``labels``: K classes) are uint8 class indices (N, 1, H, W)
in a ``.npy``; in PNGs a binary mask is written 0/255, more classes as their indices.

``export="reconstruct"`` (``gankit apply --reconstruct``) runs x -> G(E(x)) of the runs that
learn an encoder (BiGAN / ALI: Donahue et al. 2016, Sec. 3; Dumoulin et al. 2016); a run
without it is refused with one line naming what it offers and which variants reconstruct.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from gankit.data.folder import IMAGE_SUFFIXES, images_under, open_image, unreadable
from gankit.data.images import from_unit_range, to_unit_range
from gankit.errors import DataError, RunError
from gankit.exports import describe as describe_exports
from gankit.runs import Model, atomic_write_bytes, load_model, run_exports

RECONSTRUCT_EXPORT = "reconstruct"  # x -> G(E(x)), declared by variants that learn an encoder
#: ``gankit apply --direction``: the exports of a two-way translator (CycleGAN's G_AB, G_BA).
DIRECTIONS = {"a2b": "apply", "b2a": "apply_ba"}


def check_direction(run_dir: str | os.PathLike, export: str) -> None:
    """``--direction b2a`` on a run that translates one way only is one clear line."""
    if export == DIRECTIONS["a2b"]:
        return
    exports = run_exports(run_dir)
    if export not in exports:
        raise RunError(
            f"--direction: {run_dir} translates one way only (its models: "
            f"{', '.join(sorted(exports))}); --direction b2a is for runs of two-way "
            "translators such as cyclegan. Leave it out."
        )


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as a .npy array ({exc}).") from None


def size_rule(spec: dict) -> tuple[int, int] | None:
    """(multiple_of, min_size) of a fully convolutional export's input, or None when the
    export takes exactly the shape it declares. Image-to-image generators (U-Net, ResNet,
    SRResNet) declare ``multiple_of`` / ``min_size`` so that any size they can take is used."""
    if "multiple_of" not in spec and "min_size" not in spec:
        return None
    return int(spec.get("multiple_of", 1)), int(spec.get("min_size", 1))


def size_problem(h: int, w: int, spec: dict) -> str | None:
    """Why an h x w image does not fit the export's input ``spec``, or None when it does."""
    rule = size_rule(spec)
    if rule is None:
        want_h, want_w = spec.get("shape", [0, 0, 0])[1:]
        if (h, w) == (want_h, want_w):
            return None
        return f"this model takes {want_w}x{want_h} images. Resize them first."
    multiple, least = rule
    if h % multiple == 0 and w % multiple == 0 and min(h, w) >= least:
        return None
    parts = [f"a multiple of {multiple}"] if multiple > 1 else []
    parts += [f"at least {least}"] if least > 1 else []
    return (
        f"this model takes images whose sides are {' and '.join(parts)} pixels. Crop or pad them."
    )


def _read_image(path: Path, spec: dict) -> np.ndarray:
    """One image as uint8 (C, H, W), checked against the model's input ``spec``."""
    from PIL import Image

    c = spec.get("shape", [1])[0]
    with open_image(path) as image:  # Pillow's decompression-bomb limit stays on
        w, h = image.size
        problem = size_problem(h, w, spec)
        if problem:
            raise DataError(f"{path} is {w}x{h}; {problem}")
        try:
            pixels = np.asarray(image.convert("L" if c == 1 else "RGB"))
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise unreadable(path, exc) from None
    return pixels.reshape(h, w, c).transpose(2, 0, 1)


def _to_model_input(array: np.ndarray, model: Model, source: str) -> torch.Tensor:
    """A user's array as the model's input tensor, with one clear error when it does not fit."""
    e = model.export
    want = list(e.input.get("shape", []))
    if e.input.get("kind") == "image":
        if array.dtype != np.uint8 or array.ndim != 4:
            raise DataError(
                f"{source}: images must be uint8 of shape (N, C, H, W); got {array.dtype} "
                f"{tuple(array.shape)}."
            )
        problem = None if array.shape[1] == want[0] else f"this model takes {want[0]} channel(s)"
        problem = problem or size_problem(*array.shape[2:], e.input)
        if problem:
            if size_rule(e.input) is None or array.shape[1] != want[0]:
                problem = f"this model takes {tuple(want)} (C, H, W)"
            raise DataError(f"{source}: images of shape {tuple(array.shape[1:])}; {problem}.")
        return to_unit_range(array)
    if array.ndim != 2 or list(array.shape[1:]) != want or array.dtype.kind not in "fiu":
        raise DataError(
            f"{source}: this model takes vectors of shape (N, {', '.join(map(str, want))}); "
            f"got {array.dtype} {tuple(array.shape)}."
        )
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _from_model_output(y: torch.Tensor, model: Model) -> np.ndarray:
    if "labels" in model.export.output:  # a mask of class indices (segmentation)
        return y.round().clamp(0, 255).to(torch.uint8).numpy()
    if model.export.output.get("kind") == "image":
        return from_unit_range(y).numpy()
    return y.numpy().astype(np.float32)


def _png_pixels(image: np.ndarray, model: Model) -> np.ndarray:
    """What an output image file holds: a binary mask as 0/255 so that it can be seen, class
    indices as they are; other images unchanged."""
    return image * np.uint8(255) if model.export.output.get("labels") == 2 else image


def _write_npy(out: Path, array: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buf.getvalue())


def _write_image(out: Path, image: np.ndarray) -> None:
    from gankit import viz

    out.parent.mkdir(parents=True, exist_ok=True)
    viz.save_png(viz.image_grid(image[None], nrow=1, pad=0, min_cell=1), out)


def apply(
    run_dir: str | os.PathLike,
    input: str | os.PathLike,
    out: str | os.PathLike,
    export: str = "apply",
    ema: bool = True,
) -> dict:
    """Run the run's ``export`` model on ``input`` into ``out``; returns a summary
    ({"written": N, "skipped": [...], "out": path})."""
    if export == RECONSTRUCT_EXPORT:
        check_reconstructs(run_dir)
    model = load_model(run_dir, export=export, ema=ema)
    src, dst = Path(input), Path(out)
    if not src.exists():
        raise DataError(f"--input {src} does not exist.")
    image_out = model.export.output.get("kind") == "image"
    if src.is_dir():
        return _apply_folder(model, src, dst, image_out)
    if src.suffix.lower() == ".npy":
        y = _from_model_output(model(_to_model_input(_read_npy(src), model, str(src))), model)
        if dst.suffix.lower() != ".npy":
            raise RunError(f"--out {dst}: an array input writes an array; use FILE.npy.")
        _write_npy(dst, y)
        return {"written": len(y), "skipped": [], "out": str(dst)}
    if src.suffix.lower() in IMAGE_SUFFIXES:
        x = _read_image(src, model.export.input)[None]
        y = _from_model_output(model(_to_model_input(x, model, str(src))), model)
        if image_out and dst.suffix.lower() == ".png":
            _write_image(dst, _png_pixels(y[0], model))
        elif dst.suffix.lower() == ".npy":
            _write_npy(dst, y)
        else:
            raise RunError(f"--out {dst}: use FILE.png for an image output or FILE.npy.")
        return {"written": 1, "skipped": [], "out": str(dst)}
    raise DataError(f"--input {src}: give a .npy file, a .png/.jpg image or a folder of them.")


def _apply_folder(model: Model, src: Path, dst: Path, image_out: bool) -> dict:
    files = images_under(src)
    if not files:
        raise DataError(f"no PNG/JPEG images in {src}.")
    good, arrays, skipped, reasons = [], [], [], []
    for path in files:  # a bad file is named and skipped; the rest is processed
        try:
            arrays.append(_read_image(path, model.export.input))
            good.append(path)
        except DataError as exc:
            reasons.append(str(exc))
            skipped.append(str(path))
    if not arrays:  # one line, not one per file: the first reason says what to fix
        more = f" (and {len(reasons) - 1} more like it)" if len(reasons) > 1 else ""
        raise DataError(
            f"none of the {len(files)} images in {src} could be used: {reasons[0]}{more}"
        )
    for reason in reasons:
        print(f"gankit: skipped: {reason}", file=sys.stderr)
    outputs: list[np.ndarray | None] = [None] * len(arrays)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for i, a in enumerate(arrays):  # a fully convolutional model may take several sizes
        by_size.setdefault(a.shape, []).append(i)
    for idx in by_size.values():
        batch = _to_model_input(np.stack([arrays[i] for i in idx]), model, str(src))
        for i, y in zip(idx, _from_model_output(model(batch), model)):
            outputs[i] = y
    if image_out and dst.suffix.lower() != ".npy":
        for path, image in zip(good, outputs):
            _write_image(dst / path.relative_to(src).with_suffix(".png"), _png_pixels(image, model))
    else:
        if dst.suffix.lower() != ".npy":
            raise RunError(f"--out {dst}: this model writes vectors; use FILE.npy.")
        if len(by_size) > 1:
            raise RunError(
                f"--out {dst}: the images in {src} have {len(by_size)} different sizes, which "
                "one array cannot hold; give a folder as --out."
            )
        _write_npy(dst, np.stack(outputs))  # rows in the sorted order of the input files
    return {"written": len(outputs), "skipped": skipped, "out": str(dst)}


def reconstructing_variants() -> list[str]:
    """The variants whose runs export ``reconstruct``, asked of each variant's own
    ``exports`` on its first preset (a new variant file is counted without an edit here)."""
    from types import SimpleNamespace

    from gankit.presets import PRESETS, preset_config
    from gankit.variants import VARIANTS

    firsts: dict[str, str] = {}
    for name, p in PRESETS.items():
        firsts.setdefault(str(p.overrides.get("train.variant", "gan")), name)
    found = []
    for variant in VARIANTS.names():
        if variant not in firsts:
            continue
        try:
            cfg = preset_config(firsts[variant])
            v = VARIANTS.get(variant)()
            for kind, shape in (("image", (1, 16, 16)), ("vector", (2,))):
                data = SimpleNamespace(
                    kind=kind, shape=shape, name=cfg.data.name, num_classes=10,
                    class_names=[str(i) for i in range(10)],
                )  # fmt: skip
                if RECONSTRUCT_EXPORT in v.exports(cfg, data):
                    found.append(variant)
                    break
        except Exception:  # noqa: BLE001 - a variant that cannot describe itself this way
            continue
    return found


def check_reconstructs(run_dir: str | os.PathLike) -> None:
    """One clear line when the run has no ``reconstruct`` export."""
    exports = run_exports(run_dir)
    if RECONSTRUCT_EXPORT in exports:
        return
    able = ", ".join(reconstructing_variants()) or "none installed"
    raise RunError(
        f"{run_dir} cannot reconstruct (no x -> G(E(x)) model); it offers: "
        f"{describe_exports(exports)}. Variants whose runs reconstruct: {able}."
    )
