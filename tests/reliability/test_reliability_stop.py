"""Graceful stop: SIGINT / SIGTERM finish the step, write a checkpoint, say how to resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from gankit.runs import RunDir, read_checkpoint
from gankit.training.guard import TrainingStopped
from gankit.training.loop import Trainer
from tests.reliability.reliability_support import (
    CHILD_ENV,
    CRASH_SETS,
    newest_step,
    set_args,
    wait_until,
)

# A record after every step tells the test that the loop runs (and its handlers are in place);
# checkpoints every 1000 steps, so the one found after a stop was written by the stop itself.
STOP_SETS = {**CRASH_SETS, "log.checkpoint_every": 1000, "log.stats_every": 1}


def _last_logged_step(run) -> int:
    records = RunDir(run).read_stats()
    return records[-1]["step"] if records else -1


def _check_stopped(run, out: str, signame: str) -> int:
    """The message names the signal, the step and the resume command; that step is saved."""
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"gankit: stopped by {signame} at step "), out
    assert f"`gankit resume {run}`" in last
    step = int(last.split(" at step ")[1].split(";")[0])
    assert newest_step(run) == step
    assert read_checkpoint(RunDir(run).checkpoint_paths()[-1]).step == step
    # the dashboard reads the graceful stop from status.json, not from the run going idle
    status = json.loads(RunDir(run).status_path.read_text())
    assert status["status"] == "stopped" and f"at step {step}" in status["reason"], status
    return step


def test_cli_sigterm_then_sigint(zygote, tmp_path):
    run, log = tmp_path / "run", tmp_path / "log.txt"
    argv = ["train", "toy-ring", "--out", str(run), "--steps", "100000", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gankit", *argv, *set_args(STOP_SETS)],
        env=CHILD_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: _last_logged_step(run) > 0, "training to start")
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=300)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, out  # 143: the shell's convention
    first = _check_stopped(run, out, "SIGTERM")

    # Ctrl-C in a resumed run (a `gankit` process forked from the test's zygote)
    pid = zygote.run(["resume", str(run), "--quiet"], log)
    wait_until(lambda: _last_logged_step(run) > first, "the resumed run to train", log)
    os.kill(pid, signal.SIGINT)
    assert zygote.wait(pid) == {"signal": None, "code": 128 + signal.SIGINT}  # 130
    assert _check_stopped(run, log.read_text(), "SIGINT") > first


def _trainer(toy_cfg, tmp_path, **kw):
    cfg = toy_cfg(**{"log.checkpoint_every": 1000, "diagnose.enabled": False, **kw})
    return Trainer(cfg, RunDir.create(tmp_path / "run", cfg))


def _on_step(tr: Trainer, step: int, action) -> None:
    """Run ``action()`` inside the G update of step ``step`` (1-based)."""
    phase = tr.phases[-1]
    inner = phase.loss

    def loss(ctx):
        if ctx.step == step - 1:
            action()
        return inner(ctx)

    phase.loss = loss


def test_handlers_only_during_training_and_restored(toy_cfg, tmp_path):
    tr = _trainer(toy_cfg, tmp_path)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    seen = {}
    _on_step(tr, 2, lambda: seen.update({s: signal.getsignal(s) for s in before}))
    _on_step(tr, 4, lambda: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(TrainingStopped) as stopped:
        tr.train(50)
    assert all(seen[s] is not before[s] for s in before)  # ours while training
    assert {s: signal.getsignal(s) for s in before} == before  # theirs afterwards
    assert stopped.value.step == 4 and stopped.value.exit_code == 143
    assert RunDir(tmp_path / "run").load_checkpoint().step == 4

    tr.train(6)  # a normal end restores them too
    assert {s: signal.getsignal(s) for s in before} == before


def test_second_signal_interrupts_at_once(toy_cfg, tmp_path):
    tr = _trainer(toy_cfg, tmp_path)

    def twice():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    _on_step(tr, 3, twice)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        tr.train(50)
    assert tr.step == 2  # step 3 was abandoned, not finished
    assert signal.getsignal(signal.SIGINT) is before


def test_training_in_a_thread_keeps_working(toy_cfg, tmp_path):
    """Only the main thread may install signal handlers; elsewhere training just runs."""
    tr = _trainer(toy_cfg, tmp_path)
    errors = []
    thread = threading.Thread(target=lambda: _run(tr, errors))
    thread.start()
    thread.join()
    assert errors == [] and tr.step == 3


def _run(tr, errors):
    try:
        tr.train(3)
    except Exception as exc:  # reported to the main thread, which asserts
        errors.append(exc)
