"""The public Python API; the command line is a thin layer over these functions.

import gankit
run = gankit.train("toy-ring", out="runs/ring", steps=3000)
G = gankit.load_generator("runs/ring")
points = G.sample(1000, seed=0)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from gankit.config import Config, apply_overrides, validate
from gankit.errors import ConfigError, RunError
from gankit.presets import preset_config
from gankit.runs import RunDir, atomic_write_bytes, load_generator


def _trainer(cfg: Config, run: RunDir):
    from gankit.training.loop import Trainer  # only training needs the training code

    return Trainer(cfg, run)


def train(
    preset: str | Config,
    out: str | os.PathLike,
    *,
    steps: int | None = None,
    epochs: float | None = None,
    seed: int | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    progress: bool | None = None,
) -> RunDir:
    """Train ``preset`` (a name or a Config) into the new run directory ``out``.

    ``steps`` is the total number of generator steps; ``epochs`` converts passes over the
    data into steps. ``overrides`` are ``key=value`` strings or a dict of dotted keys.
    """
    if steps is not None and epochs is not None:
        raise RunError("give steps or epochs, not both.")
    cfg = preset if isinstance(preset, Config) else preset_config(preset, overrides)
    if isinstance(preset, Config):
        apply_overrides(cfg, overrides)
    if seed is not None:
        cfg.train.seed = seed
    if steps is not None:
        cfg.train.steps = steps
    if progress is not None:
        cfg.log.progress = progress
    validate(cfg)  # the direct edits above (steps, seed) get the same range checks
    if cfg.data.root:  # stored absolute: resume and eval may run from another directory
        cfg.data.root = str(Path(cfg.data.root).expanduser().resolve())
    main = _is_main()  # under torchrun only rank 0 writes the run directory
    existed = Path(out).exists()
    run = RunDir.create(out, cfg) if main else RunDir(out)
    try:
        trainer = _trainer(cfg, run)
        if _record_networks(cfg, trainer) and main:
            atomic_write_bytes(run.config_path, cfg.to_json().encode())
    except BaseException:  # a refusal, a torch error, Ctrl-C: nothing was trained yet
        if main:  # so leave no half-made run behind to block the retry
            run.discard_unstarted(existed)
        raise
    if epochs is not None:
        cfg.train.steps = trainer.steps_for_epochs(epochs)
        if main:
            atomic_write_bytes(run.config_path, cfg.to_json().encode())
    trainer.train(cfg.train.steps)
    return run


def _record_networks(cfg: Config, trainer: Any) -> bool:
    """config.json names the network families actually built (``auto`` is resolved); a value
    the variant does not build is refused. True when the config changed."""
    changed = False
    for key, built in trainer.variant.network_families(trainer.nets).items():
        value = getattr(cfg.model, key)
        if value == "auto":
            setattr(cfg.model, key, built)
            changed = True
        elif value != built:
            raise ConfigError(
                f"model.{key}={value} is not what train.variant={cfg.train.variant} builds (its "
                f"{key} is {built}); drop the key (only cgan, acgan and infogan choose mlp or "
                "dcgan)."
            )
    return changed


def resume(
    run_dir: str | os.PathLike,
    steps: int | None = None,
    progress: bool | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> RunDir:
    """Continue a run from its newest checkpoint to ``steps`` in total (default: its target).

    ``overrides`` may change the keys that a run can change midway (:data:`RESUME_KEYS`:
    learning rates, device, logging, evaluation, NaN handling); they are written to
    config.json, so that later resumes keep them. A run stopped before its first checkpoint
    (diverged at step 1, say) starts again from step 0 with them."""
    run = RunDir.open(run_dir)
    cfg = run.config()
    if overrides:
        _check_resume_keys(overrides)
        apply_overrides(cfg, overrides)
        if _is_main():
            atomic_write_bytes(run.config_path, cfg.to_json().encode())
    if progress is not None:
        cfg.log.progress = progress
    trainer = _trainer(cfg, run)
    if run.checkpoint_paths():
        ckpt = run.load_checkpoint()
        trainer.load_state(ckpt.tensors, ckpt.meta, ckpt.step)
    main = _is_main()
    if main:
        run.truncate_stats(trainer.step)  # records written after that checkpoint are replayed
    if steps is not None and steps != cfg.train.steps:
        cfg.train.steps = steps
        if main:
            atomic_write_bytes(run.config_path, cfg.to_json().encode())
    if cfg.train.steps < trainer.step:
        raise RunError(
            f"{run.path} is already at step {trainer.step}; ask for more steps "
            f"with --steps N (N > {trainer.step})."
        )
    trainer.train(cfg.train.steps)
    return run


# What may change when a run is continued: the optimiser's rates (a diverged run), where it
# runs, what it logs and evaluates, how NaNs are handled. Everything else defines the model
# or its data stream, and changing it midway would make the checkpoint a different run.
RESUME_KEYS = (
    "train.lr_g",
    "train.lr_d",
    "train.device",
    "train.compile",
    "train.nan_policy",
    "train.nan_check",
    "train.rollback_lr_factor",
    "train.max_rollbacks",
    "log.",
    "eval.",
    "diagnose.",
)


def _check_resume_keys(overrides: list[str] | dict[str, Any]) -> None:
    keys = (
        overrides.keys() if isinstance(overrides, dict) else [o.split("=", 1)[0] for o in overrides]
    )
    for key in keys:
        if not any(key == k or (k.endswith(".") and key.startswith(k)) for k in RESUME_KEYS):
            raise RunError(
                f"--set {key} cannot change when a run is resumed (it defines the model or its "
                "data); resume can change: "
                + ", ".join(k + "*" if k.endswith(".") else k for k in RESUME_KEYS)
                + ". "
                "Start a new run with `gankit train ... --set` for the rest."
            )


def _is_main() -> bool:
    """Under torchrun, whether this is rank 0 (which alone writes the run directory)."""
    from gankit.training.distributed import env_info  # only training imports the training code

    return env_info().is_main


def sample(
    run_dir: str | os.PathLike,
    n: int,
    seed: int | None = None,
    ema: bool = True,
    label: int | None = None,
    codes: dict[int, float] | None = None,
    text: str | None = None,
) -> np.ndarray:
    """``n`` samples in the `gankit sample` layout.

    Images: uint8 (N, C, H, W) on 0..255. Vectors: float32 (N, D). ``label`` asks a
    conditional run for one class (0..K-1); other runs refuse it with a RunError. ``codes``
    fixes latent codes by number ({code: value}: an InfoGAN code, an AAE cluster or mixture
    component); a run without such codes refuses them. ``text`` is a caption for a
    text-conditioned run (gan-int-cls, stackgan); any other run refuses it.
    """
    from gankit.data import from_unit_range

    if n < 1:
        raise RunError(f"--n must be at least 1, got {n}.")
    G = load_generator(run_dir, ema=ema)
    phi = None if text is None else G.embed([text])
    x = G.sample(n, seed=seed, label=label, codes=codes, text=phi)
    if G.kind == "image":
        return from_unit_range(x).numpy()
    return x.numpy().astype(np.float32)


def save_samples(samples: np.ndarray, out: str | os.PathLike) -> Path:
    """Write samples as ``.npy``, a ``.png`` grid (or scatter plot), or a folder of PNGs."""
    from gankit import viz

    out_s = str(out)
    path = Path(out)
    if out_s.endswith(("/", os.sep)) or path.is_dir():
        if samples.dtype != np.uint8:
            raise RunError(
                "a folder of PNGs needs image samples; this run makes vectors. "
                "Use --out FILE.npy or FILE.png."
            )
        path.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(samples):
            viz.image_grid(img[None], nrow=1, pad=0, min_cell=1).save(path / f"{i:06d}.png")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, samples)
    elif path.suffix == ".png":
        if samples.dtype == np.uint8:
            viz.image_grid(samples).save(path)
        else:
            viz.scatter_plot(samples, path)
    else:
        raise RunError(f"--out {out_s!r}: use a .npy file, a .png file or a folder ending in /.")
    return path
