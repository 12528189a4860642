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
import errno
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gankit.config import Config
from gankit.errors import CheckpointError, ConfigError, GankitError, RunError
from gankit.exports import Export, assemble, exports_from_meta
from gankit.exports import describe as describe_exports
from gankit.networks import COMPOSITES, build_network
from gankit.networks.conditional import LatentLayout
from gankit.nn.modes import evaluating
from gankit.noise import NoisePrior

CHECKPOINT_FORMAT = "gankit-checkpoint-2"  # 2: named exports and EMA modules (see exports.py)
LEGACY_FORMATS = ("gankit-checkpoint-1",)  # read through gankit.variants.legacy.upgrade
# What crafted JSON or values in a checkpoint raise while it is read (RecursionError: JSON
# nested thousands deep; OverflowError: Infinity where a whole number belongs).
_READ_ERRORS = (ValueError, KeyError, TypeError, IndexError, RecursionError, OverflowError)
_CKPT_RE = re.compile(r"^ckpt_(\d{8})\.safetensors$")


def one_line(exc: object) -> str:
    """An exception's text on one line (torch's state-dict errors span several)."""
    return " ".join(str(exc).split())


def write_error(path: Path, exc: OSError, then: str = "run the command again") -> RunError:
    """One line for a failed write: which directory, why, and that what was saved is intact."""
    where = Path(path).parent
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        problem, fix = f"no space left on the disk holding {where}", "free some space"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        problem = f"{where} is not writable ({exc.strerror})"
        fix = "make it writable (or use another directory)"
    else:
        problem, fix = f"cannot write {path} ({exc.strerror or exc})", "fix the cause"
    return RunError(
        f"{problem}; files saved before are unchanged. {fix.capitalize()}, then {then}."
    )


def atomic_write_bytes(path: Path, data: bytes, then: str = "run the command again") -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    Temporary file in the same directory, fsync, then rename (atomic on POSIX). A failed write
    (disk full, read-only directory) removes the temporary file, leaves ``path`` as it was and
    raises RunError whose message ends with ``then`` (what to do once the disk is fixed).
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc, then) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(path, exc, then) from None
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
    status_path = property(lambda self: self.path / "status.json")

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
            run.checkpoints_dir.mkdir(exist_ok=True)  # samples/ and frames/: made when written
            atomic_write_bytes(run.config_path, cfg.to_json().encode())
        except OSError as exc:
            raise RunError(f"cannot write the run directory {run.path}: {exc.strerror}.") from None
        return run

    def discard_unstarted(self, path_existed: bool) -> None:
        """Undo ``create`` when the run could not start (a refused trick, missing data): the
        config and the empty folders go, so that the same --out works after the fix. Only
        empty folders are removed; anything else in them is left alone."""
        self.config_path.unlink(missing_ok=True)
        folders = [self.samples_dir, self.frames_dir, self.checkpoints_dir]
        for d in folders + ([] if path_existed else [self.path]):
            with contextlib.suppress(OSError):  # absent or not empty
                d.rmdir()

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
    @property
    def _resume_hint(self) -> str:
        return f"continue with `gankit resume {self.path}`"

    def append_stats(self, record: dict[str, Any]) -> None:
        """Append one record as one line, so a crash cannot interleave records.

        A failed append (disk full) cuts the file back to its old length: no partial record
        stays behind for the next append to run into.
        """
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        try:
            fd = os.open(self.stats_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_error(self.stats_path, exc, self._resume_hint) from None
        try:
            start = os.lseek(fd, 0, os.SEEK_END)
            view = memoryview(line)
            while view:  # os.write may write less than asked
                view = view[os.write(fd, view) :]
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise write_error(self.stats_path, exc, self._resume_hint) from None
        finally:
            os.close(fd)

    def set_status(self, status: str | None, reason: str = "") -> None:
        """``status.json`` for the dashboard: ``finished`` or ``failed`` with the reason, written
        when training ends; ``None`` removes it when training (re)starts. "running" is never
        written: a killed process could not take it back, so while training runs the
        dashboard infers the state from the files (docs/dashboard.md)."""
        if status is None:
            with contextlib.suppress(FileNotFoundError):
                self.status_path.unlink()
            return
        body = json.dumps({"status": status, "reason": reason}) + "\n"
        atomic_write_bytes(self.status_path, body.encode())

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
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
        atomic_write_bytes(self.stats_path, text.encode(), self._resume_hint)

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
        try:
            self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(path, exc, self._resume_hint) from None
        atomic_write_bytes(path, data, self._resume_hint)
        # Temporary files left by a process killed mid-write (one writer per run: ours has
        # just been renamed) would otherwise pile up, one checkpoint's size each.
        stale = list(self.checkpoints_dir.glob(".ckpt_*.tmp"))
        for old in self.checkpoint_paths()[:-keep] + stale:
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
            raise RunError(
                f"{self.path} has no checkpoint yet: it is still before its first one (every "
                "log.checkpoint_every steps) or stopped before it; wait, or continue it with "
                f"`gankit resume {self.path}`."
            )
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
    except (*_READ_ERRORS, OSError, SafetensorError) as exc:
        raise CheckpointError(
            f"{path} is damaged or not a gankit checkpoint ({one_line(exc)})."
        ) from None
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt not in (CHECKPOINT_FORMAT, *LEGACY_FORMATS):
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} file.")
    step = meta.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{path} has no valid step number; the file is damaged.")
    try:
        if fmt in LEGACY_FORMATS:  # written by an earlier release: today's names
            from gankit.variants.legacy import upgrade

            tensors, meta = upgrade(tensors, meta)
        exports_from_meta(meta.get("exports", {}))
    except (*_READ_ERRORS, AttributeError) as exc:
        raise CheckpointError(
            f"{path} is damaged or not a gankit checkpoint ({one_line(exc)})."
        ) from None
    return Checkpoint(path=Path(path), step=step, tensors=tensors, meta=meta)


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
        layout: LatentLayout | None = None,  # labels / latent codes G takes besides z
        source: str = "this generator",  # named in error messages (the run directory)
        text_encoder: torch.nn.Module | None = None,  # a text-conditioned G's caption encoder
    ):
        # a live network (sampled while it trains) is switched to eval only while sampling
        self.net, self.prior, self.kind, self.step = net, prior, kind, step
        self.num_classes = num_classes
        self.layout = layout or LatentLayout(prior.z_dim, num_classes or 0)
        self.source = source
        self.text_encoder = text_encoder
        if text_encoder is not None and not len(text_encoder.bank):
            raise ValueError("a text-conditioned generator needs its encoder's caption bank")

    @property
    def text_conditioned(self) -> bool:
        """Whether G takes a caption embedding phi(t) (drawn from the training captions when
        none is given)."""
        return self.text_encoder is not None

    def require_text(self) -> torch.nn.Module:
        """The caption encoder; a RunError line for a generator that takes no caption."""
        if self.text_encoder is None:
            raise RunError(
                f"{self.source} is not text-conditioned, so it takes no caption; drop --text "
                "(text runs come from the presets gan-int-cls-fashion and stackgan-fashion)."
            )
        return self.text_encoder

    def bank_text(self, index: torch.Tensor) -> torch.Tensor:
        """phi(t) of training captions ``index % bank size`` of the run's bank."""
        bank = self.require_text().bank
        return bank[index.to(bank.device) % len(bank)]

    def embed(self, captions: list[str], warn: bool = True) -> torch.Tensor:
        """phi(t) of typed captions (one warning line names unknown words unless ``warn`` is
        false); a RunError for a generator that takes no caption."""
        from gankit.text.typed import encode_captions

        if not self.require_text().vocab:
            raise RunError(
                f"{self.source} was trained on precomputed text embeddings and keeps no text "
                "encoder; pass embeddings made by your own encoder (text=...) instead."
            )
        return encode_captions(self.text_encoder, captions, warn)

    def _texts(self, text, n: int, start: int, m: int, gen: torch.Generator) -> dict:
        """G's ``text`` input for samples start..start+m: the given phi(t) (one row for all,
        or one per sample), or training captions' phi(t) drawn uniformly from the bank."""
        if self.text_encoder is None:
            return {}
        bank = self.text_encoder.bank
        if text is None:
            return {"text": bank[torch.randint(len(bank), (m,), generator=gen, device=bank.device)]}
        return {"text": text.expand(n, -1)[start : start + m].to(bank.device)}

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def sample(
        self,
        n: int,
        seed: int | None = None,
        batch_size: int = 1000,
        label: int | None = None,
        codes: dict[int, float] | None = None,
        text: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``n`` samples as float32 on the CPU: images in [-1, 1] (N, C, H, W), vectors (N, D).

        Conditional runs draw labels uniformly unless ``label`` fixes the class; ``codes``
        fixes latent codes by number ({code: value}, see ``layout.describe_codes()``).
        Text-conditioned runs take ``text``, phi(t) of one caption (E,) or (1, E) for every
        sample or (n, E), e.g. from :meth:`embed`; without it, training captions are drawn.
        """
        out = list(self.sample_chunks(n, seed, batch_size, label, codes, text))
        return torch.cat(out) if out else torch.empty(0)

    @torch.no_grad()
    def sample_chunks(
        self,
        n: int,
        seed: int | None = None,
        batch_size: int = 1000,
        label: int | None = None,
        codes: dict[int, float] | None = None,
        text: torch.Tensor | None = None,
    ) -> Iterator[torch.Tensor]:
        """:meth:`sample` one chunk of at most ``batch_size`` samples at a time: the chunks,
        concatenated, are exactly ``sample(n, seed, batch_size, ...)`` (the same noise draws in
        the same order), without ever holding all ``n`` (streaming evaluation)."""
        codes = dict(codes or {})
        self.layout.check(label, codes, self.source)
        if text is not None:
            self.require_text()
            text = text.float().reshape(-1, text.shape[-1])
            if len(text) not in (1, n) or text.shape[1] != self.text_encoder.bank.shape[1]:
                raise ConfigError(
                    f"text embeddings of shape {tuple(text.shape)} do not fit {n} samples of "
                    f"{self.source}: give (1, E) or ({n}, E), "
                    f"E = {self.text_encoder.bank.shape[1]}."
                )
        if label is not None:
            codes[0] = label  # the class label is code 0 of a conditional run
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed) if seed is not None else gen.seed()
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            inputs = self.layout.draw(m, self.prior, gen, self.device, codes)
            yield self.generate(**inputs, **self._texts(text, n, start, m, gen))

    @torch.no_grad()
    def generate(self, z: torch.Tensor, **inputs: torch.Tensor) -> torch.Tensor:
        """G's output (float32, CPU) for explicit inputs: z and, where G takes them, labels
        ``y`` (or label codes ``y_code``) and the latent code vector ``c``."""
        dev = self.device
        with evaluating(self.net):
            if self.layout.plain and "text" not in inputs:
                return self.net(z.to(dev)).float().cpu()
            return self.net(z.to(dev), **{k: v.to(dev) for k, v in inputs.items()}).float().cpu()

    @torch.no_grad()
    def grid(self, z: torch.Tensor) -> torch.Tensor:
        """Samples for the preview grids from fixed noise ``z``: sample i asks for class i % K
        (or categorical value i % k, continuous codes 0) where G takes them."""
        inputs = self.layout.grid_inputs(len(z), z.device)
        if self.text_encoder is not None:  # sample i: training caption i of the bank
            inputs["text"] = self.bank_text(torch.arange(len(z)))
        return self.generate(z, **inputs)


def _ints(value: object):
    """Every integer inside a JSON value (booleans aside)."""
    if isinstance(value, int) and not isinstance(value, bool):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _ints(v)
    elif isinstance(value, list):
        for v in value:
            yield from _ints(v)


def _build_module(
    ckpt: Checkpoint, module: str, weights: dict[str, torch.Tensor]
) -> torch.nn.Module:
    """Network ``module`` from the JSON spec in ``ckpt``, checked against ``weights`` before
    real allocation.

    The spec may be crafted (a layer of a billion units): it is first built on the meta device,
    where tensors have shapes but no storage, and only a network whose shapes match the
    weights in the file, so whose size is bounded by the file's, is then built for real.
    """

    def damaged(why: object) -> CheckpointError:
        why = one_line(why)
        return CheckpointError(f"{ckpt.path}: {why}; the checkpoint is damaged or crafted.")

    try:
        spec = ckpt.meta["networks"][module]
        name, kwargs = spec["name"], dict(spec["kwargs"])
        if not isinstance(name, str) or not all(isinstance(k, str) for k in kwargs):
            raise TypeError(f"the spec of {module} is not a name and keyword arguments")
    except _READ_ERRORS as exc:
        raise damaged(f"no usable spec for network {module!r} ({exc})") from None
    # Widths and layer counts run Python loops even on the meta device; no real one exceeds
    # the number of weights the file holds for the network, so larger ones are forged.
    if any(n > max(1, sum(v.numel() for v in weights.values())) for n in _ints(kwargs)):
        raise damaged(f"a size in the spec of {module} exceeds the weights stored for it")
    probe = None
    try:
        with torch.device("meta"):
            probe = build_network(name, **kwargs)
    except (*_READ_ERRORS, GankitError) as exc:
        raise damaged(f"the spec of {module} cannot be built ({exc})") from None
    except (RuntimeError, NotImplementedError):
        pass  # a network whose construction needs real data; the checks below still hold
    if probe is not None:
        want = {k: (tuple(v.shape), v.dtype) for k, v in probe.state_dict().items()}
        if want != {k: (tuple(v.shape), v.dtype) for k, v in weights.items()}:
            raise damaged(f"the weights of {module} do not fit its spec")
    try:
        net = build_network(name, **kwargs)
        net.load_state_dict(weights)
    except (*_READ_ERRORS, GankitError, RuntimeError) as exc:
        raise damaged(f"the weights of {module} do not fit its spec ({exc})") from None
    return net


def _export(ckpt: Checkpoint, name: str, source: str) -> Export:
    exports = exports_from_meta(ckpt.meta.get("exports", {}))
    if name not in exports:
        if name == "sample":
            raise RunError(
                f"{source} has no generator to sample from; `gankit apply` runs what it "
                f"offers: {describe_exports(exports)}."
            )
        raise RunError(
            f"{source} offers no model {name!r} to apply; it offers: {describe_exports(exports)}."
        )
    return exports[name]


def _network(
    ckpt: Checkpoint, key: str, ema: bool, init_seed: int | None = None
) -> torch.nn.Module:
    """Network ``key`` of the checkpoint with its EMA weights where the run kept them and
    ``ema`` is true; with ``init_seed``, the same network with fresh random initial weights
    drawn from that seed instead (the untrained baseline of a probe), still checked against
    the file's spec and weights."""
    averaged = prefixed(ckpt.tensors, f"ema.{key}")
    weights = averaged if ema and averaged else prefixed(ckpt.tensors, key)
    if init_seed is None:
        return _build_module(ckpt, key, weights)
    with torch.random.fork_rng(devices=[]):  # the caller's random stream is left alone
        _build_module(ckpt, key, weights)  # the spec is checked against the file first
        spec = ckpt.meta["networks"][key]
        torch.manual_seed(init_seed)
        return build_network(spec["name"], **spec["kwargs"])


def _export_net(
    ckpt: Checkpoint, e: Export, ema: bool, init_seed: int | None = None
) -> torch.nn.Module:
    """The export's network, or its composite of networks, each with its EMA weights where
    the run kept them and they are wanted (random initial weights with ``init_seed``)."""

    if e.composite and e.composite not in COMPOSITES.names():  # a newer or crafted file
        raise CheckpointError(f"{ckpt.path}: unknown composite {e.composite!r} in its exports.")
    return assemble(e, lambda key: _network(ckpt, key, ema and e.ema, init_seed))


def load_generator(
    run_dir: str | os.PathLike, ema: bool = True, device: str | torch.device = "cpu"
) -> Generator:
    """Load the newest generator (the run's ``sample`` export) without the training code.

    Uses the EMA weights when the run kept them and ``ema`` is true.
    """
    run = RunDir.open(run_dir)
    cfg = run.config()
    ckpt = run.load_checkpoint()
    e = _export(ckpt, "sample", str(run_dir))
    net = _export_net(ckpt, e, ema)
    # the weights fix G's z_dim; a different one in config.json would size the noise wrongly
    kwargs = ckpt.meta["networks"][e.networks[0]]["kwargs"]
    if kwargs.get("z_dim", cfg.model.z_dim) != cfg.model.z_dim:
        raise CheckpointError(
            f"{ckpt.path}: {e.module}'s z_dim differs from config.json's model.z_dim."
        )
    # A crafted layout could ask for noise of 2**31 dimensions, a huge allocation at the first
    # sample; no real one is wider than the network's weights or differs from config.json's z.
    size = max(1, sum(t.numel() for t in net.state_dict().values()))
    layout_z = (e.layout or {}).get("z_dim", cfg.model.z_dim)
    if any(n > size for n in _ints(e.layout)) or layout_z != cfg.model.z_dim:
        raise CheckpointError(
            f"{ckpt.path}: the sample export's latent layout does not fit {e.module}; the "
            "checkpoint is damaged or crafted."
        )
    prior = NoisePrior(cfg.model.prior, cfg.model.z_dim, cfg.model.prior_df)
    encoder = None
    if e.condition:  # a text-conditioned sampler: its caption encoder (never averaged)
        encoder = _network(ckpt, e.condition["encoder"], False, None).to(device).eval()
    try:
        G = Generator(
            net.to(device).eval(),
            prior,
            kind=e.output.get("kind", ckpt.meta.get("data_kind", "vector")),
            step=ckpt.step,
            num_classes=ckpt.meta.get("num_classes"),
            layout=LatentLayout.from_meta(e.layout) if e.layout else None,
            source=str(run_dir),
            text_encoder=encoder,
        )
        if G.kind not in ("image", "vector"):
            raise ValueError(f"unknown data kind {G.kind!r}")
        # One sample now: a config whose noise does not fit the network (z_dim, labels) is a
        # load error here rather than a crash, or a huge allocation, at the first sample.
        G.sample(1, seed=0)
    except (*_READ_ERRORS, RuntimeError) as exc:
        raise CheckpointError(
            f"{ckpt.path} does not fit its run's config.json ({one_line(exc)}); the run is damaged."
        ) from None
    return G


class Model:
    """An input-to-output model a run exports (translation, super-resolution, encoding,
    segmentation), loaded by :func:`load_model`; ``model(x)`` maps a batch."""

    def __init__(self, net: torch.nn.Module, export: Export, name: str, step: int, source: str):
        self.net, self.export, self.name, self.step, self.source = net, export, name, step, source

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """The model's outputs (float32, CPU) for inputs ``x`` as the export takes them
        (images in [-1, 1] (N, C, H, W), vectors (N, D)), in batches."""
        e, out = self.export, []
        fn = getattr(self.net, e.call)
        with evaluating(self.net):
            for start in range(0, len(x), batch_size):
                y = fn(x[start : start + batch_size].to(self.device))
                out.append((y[e.index] if e.index is not None else y).float().cpu())
        return torch.cat(out) if out else torch.empty(0)


def load_model(
    run_dir: str | os.PathLike,
    export: str = "apply",
    ema: bool = True,
    device: str | torch.device = "cpu",
    init_seed: int | None = None,
) -> Model:
    """Load the run's input-to-output export ``export`` without the training code.

    ``init_seed``: the same network(s) built from the run's spec with random initial weights
    from that seed, not the trained ones (an untrained baseline, e.g. for `gankit probe`)."""
    run = RunDir.open(run_dir)
    ckpt = run.load_checkpoint()
    e = _export(ckpt, export, str(run_dir))
    if e.kind != "map":
        raise RunError(
            f"{run_dir}'s export {export!r} draws samples from noise; use `gankit sample`."
        )
    net = _export_net(ckpt, e, ema, init_seed)
    if not callable(getattr(net, e.call, None)):
        raise CheckpointError(f"{ckpt.path}: network {e.module} has no method {e.call!r}.")
    return Model(net.to(device).eval(), e, export, ckpt.step, str(run_dir))


def run_exports(run_dir: str | os.PathLike) -> dict[str, Export]:
    """The exports of a run's newest checkpoint (what `sample` and `apply` can use)."""
    return exports_from_meta(RunDir.open(run_dir).load_checkpoint().meta.get("exports", {}))


def run_networks(run_dir: str | os.PathLike) -> dict[str, str]:
    """{network key: registered network name} of a run's newest checkpoint."""
    ckpt = RunDir.open(run_dir).load_checkpoint()
    nets = ckpt.meta.get("networks")
    if not isinstance(nets, dict):
        raise CheckpointError(f"{ckpt.path} lists no networks; the checkpoint is damaged.")
    return {
        str(k): v["name"]
        for k, v in nets.items()
        if isinstance(v, dict) and isinstance(v.get("name"), str)
    }


def load_network(
    run_dir: str | os.PathLike,
    name: str,
    ema: bool = True,
    device: str | torch.device = "cpu",
    init_seed: int | None = None,
) -> torch.nn.Module:
    """The run's network ``name`` (a key of :func:`run_networks`) from its newest checkpoint,
    in eval mode, without the training code: its EMA weights where the run kept them and
    ``ema`` is true; with ``init_seed``, random initial weights from that seed instead."""
    run = RunDir.open(run_dir)
    ckpt = run.load_checkpoint()
    nets = ckpt.meta.get("networks")
    if not isinstance(nets, dict) or name not in nets:
        have = ", ".join(sorted(map(str, nets))) if isinstance(nets, dict) else "none"
        raise RunError(f"{run_dir} has no network {name!r}; its networks: {have}.")
    return _network(ckpt, name, ema, init_seed).to(device).eval()
