"""Is a run running, finished or failed? Inferred from its directory alone.

The rule, in order (documented in docs/dashboard.md):

1. ``status.json`` (``{"status": "finished" | "failed" | "stopped", "reason": ...}``) wins
   when present and valid: a trainer that writes one knows best. ``stopped`` is a graceful
   stop on SIGINT / SIGTERM after a checkpoint: resumable, not failed.
2. **failed** when a stats or metrics record holds a non-finite value, or ``diagnosis.json``
   has a finding of kind ``"nan"``.
3. **finished** when a checkpoint exists at the target step ``train.steps`` of config.json or
   beyond (the training loop always writes one at its last step).
4. **running** when anything in the run changed within the idle limit: the larger of
   ``IDLE_SECONDS`` and ``IDLE_RECORDS`` stats intervals (``sec_per_step * log.stats_every``
   from the last record), so that a slow run is not called dead between two records.
5. **failed** otherwise: it stopped short of its target and has been idle since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUSES = ("running", "finished", "failed", "stopped")
IDLE_SECONDS = 120.0  # quiet for this long without reaching the target step: stopped
IDLE_RECORDS = 5  # ... or for this many expected stats intervals, if that is longer


@dataclass
class Evidence:
    """What the rule looks at; gathered from disk by the catalog, kept plain for tests."""

    target_step: int | None  # train.steps from config.json
    checkpoint_steps: list[int]
    last_step: int | None  # step of the newest stats record
    nonfinite_step: int | None  # first stats/metrics record holding NaN or Infinity
    findings: list[dict[str, Any]]  # from diagnosis.json
    idle_seconds: float  # now minus the newest modification time in the run
    sec_per_step: float | None = None  # from the newest stats record
    stats_every: int | None = None  # log.stats_every from config.json
    status_file: dict[str, Any] | None = None  # status.json, when present


def idle_limit(ev: Evidence) -> float:
    if ev.sec_per_step and ev.stats_every:
        return max(IDLE_SECONDS, IDLE_RECORDS * ev.sec_per_step * ev.stats_every)
    return IDLE_SECONDS


def run_status(ev: Evidence) -> tuple[str, str]:
    """(status, a short human reason)."""
    declared = ev.status_file or {}
    if declared.get("status") in STATUSES:
        return declared["status"], str(declared.get("reason") or "from status.json")
    if ev.nonfinite_step is not None:
        return "failed", f"non-finite value recorded at step {ev.nonfinite_step}"
    nan = [f for f in ev.findings if isinstance(f, dict) and f.get("kind") == "nan"]
    if nan:
        return "failed", f"diagnosis: non-finite values at step {nan[0].get('step', '?')}"
    newest_ckpt = max(ev.checkpoint_steps, default=None)
    if ev.target_step is not None and newest_ckpt is not None and newest_ckpt >= ev.target_step:
        return "finished", f"reached step {newest_ckpt}"
    at = f"step {ev.last_step if ev.last_step is not None else 0} of {ev.target_step or '?'}"
    if ev.idle_seconds < idle_limit(ev):
        return "running", at
    return "failed", f"stopped at {at}; idle for {_duration(ev.idle_seconds)}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
