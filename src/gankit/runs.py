"""The run directory: the single source of truth of a training run (DESIGN principle 8).

Layout::

    RUN/config.json              the resolved config
    RUN/stats.jsonl              one JSON object per line, appended during training
    RUN/samples/step_%08d.png    grids from one fixed noise batch ("progress during training")
    RUN/samples/progress.gif     those grids animated
    RUN/frames/step_%08d.png     2-D toys: real vs generated points over D's contour
    RUN/checkpoints/ckpt_%08d.safetensors   whole training state; weights + JSON metadata
    RUN/losses.png               loss curves read back from stats.jsonl

Training writes through this module; sampling, evaluation and dashboards read through it, so
loading a generator never needs the training code.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gankit.config import Config
from gankit.errors import CheckpointError, ConfigError, RunError
from gankit.networks import build_network
from gankit.noise import NoisePrior

CHECKPOINT_FORMAT = "gankit-checkpoint-1"
_CKPT_RE = re.compile(r"^ckpt_(\d{8})\.safetensors$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    Temporary file in the same directory, fsync, then rename (atomic on POSIX).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # persist the rename itself
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass
class Checkpoint:
    path: Path
    step: int
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]


class RunDir:
    """A run directory on disk; see the module docstring for its layout."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # --- paths -----------------------------------------------------------------------------
    config_path = property(lambda self: self.path / "config.json")
    stats_path = property(lambda self: self.path / "stats.jsonl")
    samples_dir = property(lambda self: self.path / "samples")
    frames_dir = property(lambda self: self.path / "frames")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")

    # --- creation / opening ----------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, cfg: Config) -> RunDir:
        """Start a new run at ``path``; refuses to touch a directory that already holds one."""
        run = cls(path)
        if run.config_path.exists():
            raise RunError(
                f"{run.path} already holds a run; continue it with `gankit resume {run.path}` "
                "or choose another --out."
            )
        try:
            run.path.mkdir(parents=True, exist_ok=True)
            for d in (run.samples_dir, run.checkpoints_dir):
                d.mkdir(exist_ok=True)
            atomic_write_bytes(run.config_path, cfg.to_json().encode())
        except OSError as exc:
            raise RunError(f"cannot write the run directory {run.path}: {exc.strerror}.") from None
        return run

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """Open an existing run; a directory without ``config.json`` is not a run."""
        run = cls(path)
        if not run.path.is_dir():
            raise RunError(
                f"{run.path} does not exist; give the --out directory of a training run."
            )
        if not run.config_path.is_file():
            raise RunError(
                f"{run.path} is not a gankit run (no config.json); give the --out directory "
                "of `gankit train`."
            )
        return run

    def config(self) -> Config:
        try:
            raw = json.loads(self.config_path.read_text())
            return Config.from_dict(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunError(
                f"{self.config_path} is not valid JSON ({exc}); the run is damaged."
            ) from None
        except ConfigError as exc:
            raise RunError(
                f"{self.config_path} does not match this gankit version: {exc}"
            ) from None

    # --- stats -----------------------------------------------------------------------------
    def append_stats(self, record: dict[str, Any]) -> None:
        """Append one record as one line in one write, so a crash cannot interleave records."""
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.stats_path, "a") as f:
            f.write(line)
            f.flush()

    def read_stats(self) -> list[dict[str, Any]]:
        """All complete records; a half-written last line (a crash mid-write) is skipped."""
        if not self.stats_path.exists():
            return []
        records = []
        for line in self.stats_path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                rec = json.loads(line)
                if isinstance(rec, dict):
                    records.append(rec)
        return records

    def truncate_stats(self, step: int) -> None:
        """Drop records past ``step`` (written after the checkpoint a resume starts from)."""
        kept = [r for r in self.read_stats() if r.get("step", 0) <= step]
        atomic_write_bytes(
            self.stats_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept).encode()
        )

    # --- checkpoints -----------------------------------------------------------------------
    def checkpoint_paths(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = [p for p in self.checkpoints_dir.iterdir() if _CKPT_RE.match(p.name)]
        return sorted(found)

    def save_checkpoint(
        self, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep: int
    ) -> Path:
        """Atomically write the whole training state, then prune to the newest ``keep``."""
        meta = {"format": CHECKPOINT_FORMAT, "step": step, **meta}
        data = st_save(
            {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
            metadata={"gankit": json.dumps(meta)},
        )
        path = self.checkpoints_dir / f"ckpt_{step:08d}.safetensors"
        self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        for old in self.checkpoint_paths()[:-keep]:
            with contextlib.suppress(OSError):
                old.unlink()
        return path

    def load_checkpoint(self, path: Path | None = None) -> Checkpoint:
        """Load ``path``, or the newest checkpoint that reads back intact.

        A damaged newest file (for instance a crash on a filesystem without atomic rename) is
        skipped with the older one used instead; nothing is deleted.
        """
        candidates = [Path(path)] if path else list(reversed(self.checkpoint_paths()))
        if not candidates:
            raise RunError(f"{self.path} has no checkpoint yet; train it with `gankit train`.")
        errors = []
        for p in candidates:
            try:
                return read_checkpoint(p)
            except CheckpointError as exc:
                errors.append(str(exc))
        raise CheckpointError("no readable checkpoint: " + "; ".join(errors))


def read_checkpoint(path: Path) -> Checkpoint:
    """Read one checkpoint file without unpickling anything (safetensors + JSON)."""
    try:
        raw = Path(path).read_bytes()
        tensors = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + header_len])
        meta = json.loads(header["__metadata__"]["gankit"])
    except (OSError, SafetensorError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is damaged or not a gankit checkpoint ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} file.")
    return Checkpoint(path=Path(path), step=int(meta["step"]), tensors=tensors, meta=meta)


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under ``prefix.`` with the prefix removed (one module's state dict)."""
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


class Generator:
    """A trained generator loaded from a run directory, ready to sample from.

    Made by :func:`load_generator`; holds the network, its noise prior and what its outputs are.
    """

    def __init__(
        self,
        net: torch.nn.Module,
        prior: NoisePrior,
        kind: str,
        step: int,
        num_classes: int | None = None,
    ):
        self.net, self.prior, self.kind, self.step = net.eval(), prior, kind, step
        self.num_classes = num_classes

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch_size: int = 1000) -> torch.Tensor:
        """``n`` samples as float32 on the CPU: images in [-1, 1] (N, C, H, W), vectors (N, D)."""
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed) if seed is not None else gen.seed()
        out = []
        for start in range(0, n, batch_size):
            z = self.prior.sample(min(batch_size, n - start), gen, self.device)
            out.append(self.net(z).float().cpu())
        return torch.cat(out) if out else torch.empty(0)


def load_generator(
    run_dir: str | os.PathLike, ema: bool = True, device: str | torch.device = "cpu"
) -> Generator:
    """Load the newest generator of a run without the training code.

    Uses the EMA weights when the run kept them and ``ema`` is true.
    """
    run = RunDir.open(run_dir)
    cfg = run.config()
    ckpt = run.load_checkpoint()
    specs = ckpt.meta["networks"]
    name = "G_ema" if ema and any(k.startswith("G_ema.") for k in ckpt.tensors) else "G"
    spec = specs["G"]
    net = build_network(spec["name"], **spec["kwargs"])
    try:
        net.load_state_dict(prefixed(ckpt.tensors, name))
    except RuntimeError as exc:
        raise CheckpointError(
            f"{ckpt.path}: generator weights do not fit its spec ({exc})."
        ) from None
    prior = NoisePrior(cfg.model.prior, cfg.model.z_dim, cfg.model.prior_df)
    return Generator(
        net.to(device),
        prior,
        kind=ckpt.meta.get("data_kind", "vector"),
        step=ckpt.step,
        num_classes=ckpt.meta.get("num_classes"),
    )
