"""What keeps a training run from losing work or saving garbage.

* :class:`StopSignals`: SIGINT / SIGTERM during training only set a flag; the loop finishes the
  current step, writes a checkpoint and raises :class:`TrainingStopped` (the CLI exits 130 /
  143 with the resume command). A second signal interrupts at once, as Ctrl-C normally does.
* :func:`check_update`: a non-finite loss term or gradient is caught after backward and before
  the optimizer step, with one host sync per update, so a bad batch never moves the weights.
* :class:`DeferredCheck`: the same check without the per-update sync, for GPUs
  (``train.nan_check=record``, the default there): the flags stay on the device and are read
  when a stats record or a checkpoint is due, so a bad update is caught at most
  ``log.stats_every`` steps late and never reaches a checkpoint.
* :func:`recover`: what happens then, by ``train.nan_policy``: stop with a clear message, or
  roll back to the newest checkpoint with every learning rate multiplied by
  ``train.rollback_lr_factor`` (a fixed learning rate would replay the same divergence).
* :func:`non_finite_names`: the check that keeps a poisoned state out of the checkpoints.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from pathlib import Path

import torch
from torch import Tensor

from gankit.errors import GankitError, TrainingError
from gankit.training.callbacks import Trainer  # the loop's, as Any: the loop imports this module

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAN_POLICIES = ("stop", "rollback")


# --- graceful stop --------------------------------------------------------------------------
class TrainingStopped(GankitError):
    """Training stopped on a signal after writing a checkpoint; not a failure of the run."""

    def __init__(self, step: int, run_dir: Path, signum: int):
        self.step, self.run_dir, self.signum = step, Path(run_dir), signum
        # the shell convention for "ended by signal N": 130 for SIGINT, 143 for SIGTERM
        self.exit_code = 128 + signum
        super().__init__(
            f"stopped by {signal.Signals(signum).name} at step {step}; the checkpoint is "
            f"saved. Continue with `gankit resume {self.run_dir}`"
        )


class StopSignals:
    """Context manager: while active, SIGINT and SIGTERM request a stop instead of killing.

    Python only lets the main thread install handlers; elsewhere (a notebook's worker thread)
    this does nothing and the signals keep their usual effect.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: object) -> None:
        # No printing here: the handler can run in the middle of a write to stderr (the
        # progress bar), and a second write to the same stream would raise "reentrant call".
        if self.signum is not None:
            raise KeyboardInterrupt  # asked twice: the user does not want to wait
        self.signum = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            # None means a handler installed outside Python; the default is the safe fallback
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}


# --- non-finite values ----------------------------------------------------------------------
class NonFiniteUpdate(TrainingError):
    """A loss term or gradient of one update was NaN or infinite; the update was not applied."""


def _max_abs(tensors: list[Tensor]) -> list[Tensor]:
    """max |x| of each tensor, as 0-dim float32 tensors on the tensors' devices.

    The infinity norm is NaN if any element is NaN and inf if any is infinite, and unlike the
    2-norm it cannot overflow on large but finite values, so it never raises a false alarm.
    """
    nonempty = [t for t in tensors if t.numel()]
    return [n.float() for n in torch._foreach_norm(nonempty, math.inf)] if nonempty else []


def check_update(
    phase: str, terms: dict[str, Tensor], total: Tensor, opt: torch.optim.Optimizer, step: int
) -> None:
    """Raise :class:`NonFiniteUpdate` unless the loss and all of ``opt``'s gradients are finite.

    Called between ``backward`` and ``opt.step``. Backward on a non-finite loss only writes
    ``.grad`` buffers, which the next ``zero_grad`` discards, so checking the loss here rather
    than before backward changes nothing, and it lets one device sync cover both checks.
    """
    grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
    flags = torch.stack([total.detach().float().reshape(()), *_max_abs(grads)])
    if bool(flags.isfinite().all()):  # the one host sync of this update
        return
    bad = [f"{k}={v.detach().float().mean().item():g}" for k, v in terms.items()
           if not bool(torch.isfinite(v.detach()).all())]  # fmt: skip
    where = f"in the {phase} update of step {step + 1}"
    if bad:
        raise NonFiniteUpdate(f"non-finite loss {', '.join(bad)} {where}")
    n_bad = sum(1 for g in grads if not bool(torch.isfinite(g).all()))
    raise NonFiniteUpdate(f"non-finite gradient in {n_bad} of {len(grads)} tensors {where}")


class DeferredCheck:
    """Non-finite loss terms and gradients, flagged on the device and read back only in
    :meth:`raise_if_bad`. On a GPU the per-update read-back of :func:`check_update` stalls the
    host until the backward pass has finished, so no kernels are queued ahead; deferring it
    keeps the device busy. The price: a bad update is applied, and found at the next check;
    the loop checks before every stats record and checkpoint, so ``nan_policy`` still stops
    with, or rolls back to, a good checkpoint."""

    def __init__(self) -> None:
        self.flag: Tensor | None = None
        self.first_step: int | None = None

    def add(self, terms: dict[str, Tensor], total: Tensor, opt: torch.optim.Optimizer, step: int):
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        bad = ~torch.stack([total.detach().float().reshape(()), *_max_abs(grads)]).isfinite().all()
        self.flag = bad if self.flag is None else self.flag | bad
        if self.first_step is None:
            self.first_step = step

    def reset(self) -> None:
        self.flag, self.first_step = None, None

    def raise_if_bad(self, step: int) -> None:
        """Raise :class:`NonFiniteUpdate` if any update since the last call was non-finite."""
        if self.flag is None:
            return
        bad, first = bool(self.flag), self.first_step  # the one host sync per check
        self.reset()
        if bad:
            raise NonFiniteUpdate(
                f"non-finite loss or gradient in an update of steps {first + 1}..{step} "
                "(train.nan_check=record finds it at the next stats record or checkpoint; "
                "train.nan_check=step names the exact update)"
            )


def non_finite_names(tensors: dict[str, Tensor]) -> list[str]:
    """Names of the floating-point tensors that hold a NaN or an infinity (one device sync)."""
    named = [(k, v) for k, v in tensors.items() if v.is_floating_point() and v.numel()]
    if not named:
        return []
    finite = torch.stack(_max_abs([v.detach() for _, v in named])).isfinite().tolist()
    return [k for (k, _), ok in zip(named, finite) if not ok]


# --- what to do about it ----------------------------------------------------------------------
def _newest_step(trainer: Trainer) -> str:
    paths = trainer.run.checkpoint_paths()
    return f"step {int(paths[-1].stem.split('_')[1])}" if paths else "none yet"


def ensure_rollback_point(trainer: Trainer) -> None:
    """With ``nan_policy=rollback`` a run needs a checkpoint to go back to from its first step."""
    if trainer.cfg.train.nan_policy == "rollback" and not trainer.run.checkpoint_paths():
        trainer.save_checkpoint()


def recover(trainer: Trainer, exc: NonFiniteUpdate) -> None:
    """Apply ``train.nan_policy`` to a caught non-finite update: raise, or roll back."""
    t = trainer.cfg.train
    kept = f"the newest checkpoint ({_newest_step(trainer)}) is kept"
    if t.nan_policy != "rollback":
        raise TrainingError(
            f"{exc}; training stopped before the optimizer step and {kept}. Continue with "
            f"`gankit resume {trainer.run.path} --set train.lr_d=...` (and/or train.lr_g) at a "
            "lower rate, check the data, or add --set train.nan_policy=rollback."
        ) from None
    if trainer.rollbacks >= t.max_rollbacks:
        raise TrainingError(
            f"{exc}, after {trainer.rollbacks} rollbacks (train.max_rollbacks); training stopped "
            f"and {kept}. Continue with `gankit resume {trainer.run.path} --set "
            "train.lr_d=...` (and/or train.lr_g) at a lower rate, or check the data."
        ) from None
    # Multiply the rates in use now, not the checkpoint's: after an earlier rollback to the
    # same checkpoint those would be the old rates, and the same divergence would replay.
    lrs = [[g["lr"] for g in opt.param_groups] for opt in trainer.optimizers.values()]
    ckpt = trainer.run.load_checkpoint()
    trainer.load_state(ckpt.tensors, ckpt.meta, ckpt.step)
    for opt, old in zip(trainer.optimizers.values(), lrs):
        for group, lr in zip(opt.param_groups, old):
            group["lr"] = lr * t.rollback_lr_factor
    trainer.run.truncate_stats(trainer.step)  # the steps after it are trained again
    trainer.rollbacks += 1
    print(
        f"gankit: {exc}; rolled back to step {trainer.step} with learning rates x"
        f"{t.rollback_lr_factor:g} (rollback {trainer.rollbacks} of {t.max_rollbacks})",
        file=sys.stderr,
    )
