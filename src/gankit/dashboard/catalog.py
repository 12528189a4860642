"""Finding the runs under a runs directory and summarising each one from its files.

A run is any directory holding ``config.json`` (the layout is in :mod:`gankit.runs`). Runs are
named by their path relative to the root (``exp1/ring``); the root itself may be a run. Files
being written are expected: JSONL is read incrementally (see :mod:`jsonl_tail`) and JSON files
that do not parse yet are treated as absent until the next poll.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from gankit.dashboard.jsonl_tail import JsonlTail
from gankit.dashboard.safety import PathRefused, check_relative_id, inside
from gankit.dashboard.status import Evidence, run_status
from gankit.runs import RunDir

PICTURE_KINDS = ("samples", "frames")  # samples/step_%08d.png grids, frames/ 2-D toy frames
_PICTURE_RE = re.compile(r"^step_(\d{8})\.png$")
_RUN_PARTS = {"samples", "frames", "checkpoints"}  # folders inside a run: never runs themselves
MAX_DEPTH = 4  # how deep below the root runs are looked for


class UnknownRun(Exception):
    """No run with this id under the root."""


class _JsonFile:
    """A small JSON file read again only when its size or mtime changes."""

    def __init__(self, path: Path):
        self.path = path
        self._key: tuple[int, int] | None = None
        self._value: Any = None

    def read(self) -> Any:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._key, self._value = None, None
            return None
        key = (st.st_mtime_ns, st.st_size)
        if key != self._key:
            try:
                self._value = json.loads(self.path.read_bytes())
            except (OSError, ValueError):
                return None  # half-written: use nothing now, read it again next time
            self._key = key
        return self._value


class RunView:
    """One run as the dashboard shows it; keeps incremental readers between requests."""

    def __init__(self, root: Path, run_id: str, path: Path):
        self.root, self.id, self.path = root, run_id, path
        self.run = RunDir(path)
        self.stats = JsonlTail(self.run.stats_path)
        self.metrics = JsonlTail(path / "metrics.jsonl")
        self._config = _JsonFile(self.run.config_path)
        self._diagnosis = _JsonFile(path / "diagnosis.json")
        self._status_file = _JsonFile(path / "status.json")

    # --- pieces ----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        cfg = self._config.read()
        return cfg if isinstance(cfg, dict) else {}

    def findings(self) -> list[dict[str, Any]]:
        diag = self._diagnosis.read()
        found = diag.get("findings") if isinstance(diag, dict) else None
        return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []

    def checkpoint_steps(self) -> list[int]:
        return [int(p.name[5:13]) for p in self.run.checkpoint_paths()]

    def picture_steps(self, kind: str) -> list[int]:
        folder = self.path / kind
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(int(m.group(1)) for n in names if (m := _PICTURE_RE.match(n)))

    def picture_path(self, kind: str, step: int) -> Path:
        """The file of one grid or frame; refuses symlinks that lead out of the root."""
        if kind not in PICTURE_KINDS:
            raise UnknownRun(f"no pictures of kind {kind!r}; use samples or frames")
        path = inside(self.root, self.path / kind / f"step_{step:08d}.png")
        if not path.is_file():
            raise FileNotFoundError(path)
        return path

    def _last_activity(self) -> float:
        newest = 0.0
        for p in (
            self.run.config_path,
            self.run.stats_path,
            self.metrics.path,
            self.run.checkpoints_dir,
            self.run.samples_dir,
            self.run.frames_dir,
            self._diagnosis.path,
        ):
            try:
                newest = max(newest, os.stat(p).st_mtime)
            except OSError:
                continue
        return newest

    # --- what the API returns --------------------------------------------------------------
    def summary(self, now: float | None = None) -> dict[str, Any]:
        cfg = self.config()
        records = self.stats.refresh()
        self.metrics.refresh()
        last = records[-1] if records else {}
        ckpts = self.checkpoint_steps()
        train, log, data = (cfg.get(k) or {} for k in ("train", "log", "data"))
        last_activity = self._last_activity()
        nonfinite = [
            s for s in (self.stats.nonfinite_step, self.metrics.nonfinite_step) if s is not None
        ]
        status_file = self._status_file.read()
        status, reason = run_status(
            Evidence(
                target_step=_int(train.get("steps")),
                checkpoint_steps=ckpts,
                last_step=_int(last.get("step")),
                nonfinite_step=min(nonfinite) if nonfinite else None,
                findings=self.findings(),
                idle_seconds=(now or time.time()) - last_activity,
                sec_per_step=_float(last.get("sec_per_step")),
                stats_every=_int(log.get("stats_every")),
                status_file=status_file if isinstance(status_file, dict) else None,
            )
        )
        step = _int(last.get("step"))
        if ckpts and (step is None or ckpts[-1] > step):
            step = ckpts[-1]
        return {
            "id": self.id,
            "preset": cfg.get("preset", "?"),
            "variant": train.get("variant", "?"),
            "dataset": data.get("name", "?"),
            "status": status,
            "reason": reason,
            "step": step or 0,
            "target_step": _int(train.get("steps")),
            "updated": last_activity,
            "has_checkpoint": bool(ckpts),
            "records": len(records),
        }

    def detail(self) -> dict[str, Any]:
        out = self.summary()
        out["config"] = self.config()
        out["findings"] = self.findings()
        for kind in PICTURE_KINDS:
            out[kind] = self.picture_steps(kind)
        out["stats_generation"] = self.stats.generation
        out["metrics_generation"] = self.metrics.generation
        return out


class RunCatalog:
    """All runs under ``root``, discovered again on every listing (runs appear while it runs)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self._views: dict[str, RunView] = {}
        self._lock = threading.Lock()

    def discover(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        self._walk(self.root, 0, found)
        return found

    def _walk(self, folder: Path, depth: int, found: dict[str, Path]) -> None:
        if (folder / "config.json").is_file():
            rel = folder.relative_to(self.root).as_posix()
            found[folder.name if rel == "." else rel] = folder
            return  # runs do not nest
        if depth >= MAX_DEPTH:
            return
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or entry.name in _RUN_PARTS:
                continue
            try:
                if not entry.is_dir():
                    continue
                # A symlink that leads out of the root is not part of it.
                inside(self.root, Path(entry.path))
            except (OSError, PathRefused):
                continue
            self._walk(Path(entry.path), depth + 1, found)

    def runs(self) -> list[RunView]:
        found = self.discover()
        with self._lock:
            for run_id in list(self._views):
                if run_id not in found:
                    del self._views[run_id]
            return [self._view(run_id, path) for run_id, path in found.items()]

    def get(self, run_id: str) -> RunView:
        """The run called ``run_id``; ids are checked as paths before anything is looked up."""
        segments = check_relative_id(run_id)
        with self._lock:
            if run_id in self._views:
                return self._views[run_id]
        if (self.root / "config.json").is_file():
            path = self.root if run_id == self.root.name else None
        else:
            path = inside(self.root, self.root.joinpath(*segments))
        if path is None or not (path / "config.json").is_file():
            raise UnknownRun(f"no run {run_id!r} in {self.root}")
        with self._lock:
            return self._view(run_id, path)

    def _view(self, run_id: str, path: Path) -> RunView:
        view = self._views.get(run_id)
        if view is None:
            view = self._views[run_id] = RunView(self.root, run_id, path)
        return view


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and value == value else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
