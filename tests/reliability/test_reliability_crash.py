"""Crash safety: SIGKILL at random moments, and exactly inside checkpoint writes.

One run directory is trained, killed, resumed, killed again... Each time the newest checkpoint
must read back intact (not merely some older one), stats.jsonl must hold only complete records,
and leftover temporary files must never count as checkpoints. At the end the run, resumed to
completion by a fresh `python -m gankit`, must equal bitwise a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from gankit.runs import RunDir, read_checkpoint
from tests.reliability.reliability_support import (
    CHILD_ENV,
    CRASH_SETS,
    assert_same_run,
    newest_step,
    set_args,
    wait_until,
)

RANDOM_KILLS = 22
RECORD_KEYS = {"step", "epoch", "sec_per_step", "loss/d_adv", "loss/g_adv", "D(x)", "D(G(z))"}


def _check_intact(run, at_least: int) -> int:
    """The state a killed run left behind is usable; returns the newest checkpoint's step."""
    rd = RunDir(run)
    paths = rd.checkpoint_paths()
    assert paths and all(p.suffix == ".safetensors" and not p.name.startswith(".") for p in paths)
    newest = read_checkpoint(paths[-1])  # the newest file itself, not a fallback to an older one
    assert newest.step >= at_least
    assert rd.load_checkpoint().step == newest.step
    # stats.jsonl: every line but a possibly cut last one is a full record; a cut one is
    # never returned as data
    raw = rd.stats_path.read_bytes()
    lines = raw.split(b"\n")
    complete, cut = lines[:-1], lines[-1]
    records = rd.read_stats()
    assert len(records) == len(complete)
    assert [json.loads(line) for line in complete] == records
    assert all(r.keys() >= RECORD_KEYS for r in records)
    steps = [r["step"] for r in records]
    assert steps == sorted(set(steps)), "a record was duplicated or reordered"
    assert not cut or cut not in {json.dumps(r, sort_keys=True).encode() for r in records}
    return newest.step


def test_sigkill_at_random_moments_then_resume_equals_uninterrupted(zygote, tmp_path):
    run, log = tmp_path / "run", tmp_path / "log.txt"
    train = ["train", "toy-ring", "--out", str(run), "--steps", "100000", "--quiet"]
    train += set_args(CRASH_SETS)
    rng = random.Random(20240611)  # seeded: a failure can be replayed with the same delays
    step, kills = -1, 0
    for i in range(RANDOM_KILLS):
        pid = zygote.run(train if i == 0 else ["resume", str(run), "--quiet"], log)
        # wait for a new checkpoint so every round makes progress, then kill at a random
        # moment of the steps and checkpoint writes that follow
        wait_until(lambda s=step: newest_step(run) > s, "a checkpoint", log)
        time.sleep(rng.uniform(0.0, 0.2))
        os.kill(pid, signal.SIGKILL)
        assert zygote.wait(pid)["signal"] == signal.SIGKILL
        kills += 1
        step = _check_intact(run, at_least=step + 1)

    # Exactly inside a checkpoint write: half the bytes written; all written, not synced;
    # synced, not renamed. The temporary file is there, and is not taken for a checkpoint.
    for hook in ("mid_write", "before_fsync", "before_rename"):
        marker = tmp_path / f"{hook}.marker"
        pid = zygote.run(["resume", str(run), "--quiet"], log, hook=hook, marker=marker)
        wait_until(marker.exists, f"the {hook} hook", log)
        os.kill(pid, signal.SIGKILL)
        assert zygote.wait(pid)["signal"] == signal.SIGKILL
        kills += 1
        step = _check_intact(run, at_least=step)
        assert list(RunDir(run).checkpoints_dir.glob(".ckpt_*.tmp")), "no write was cut"
    assert kills >= 20

    # A fresh interpreter resumes to the end; another trains the same run uninterrupted.
    end = step + 9
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gankit", *argv, "--steps", str(end), "--quiet"],
            env=CHILD_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for argv in (
            ["resume", str(run)],
            ["train", "toy-ring", "--out", str(tmp_path / "ref"), *set_args(CRASH_SETS)],
        )
    ]
    try:
        outs = [p.communicate(timeout=600)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], outs
    assert not list(RunDir(run).checkpoints_dir.glob(".ckpt_*.tmp"))  # leftovers cleaned up
    assert_same_run(run, tmp_path / "ref")
