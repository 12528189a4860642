"""Helpers of the reliability tests: training processes to kill, and run comparisons.

Starting a Python that imports torch takes seconds on a busy 2-core machine, too slow for
dozens of kills. :class:`Zygote` imports gankit once in a helper process and forks each
`gankit ...` command from it, so a command starts in milliseconds. The children run the real
``gankit.cli.main`` and die by real signals; only the interpreter start-up is shared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from gankit.runs import RunDir
from tests.conftest import TINY_TOY

# One thread per process: 2 shared cores, and the same float reductions in every process, so
# runs in different processes can be compared bitwise.
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# A toy run that writes a checkpoint after every step and is far from done: every moment of
# its life is a good moment to kill it. Deterministic, so that resumes can be compared bitwise.
CRASH_SETS = {
    **TINY_TOY,
    "log.checkpoint_every": 1,
    "log.keep_checkpoints": 2,
    "log.stats_every": 3,
    "log.sample_every": 1000,
    "train.deterministic": True,
    "train.ema": 0.9,
    "diagnose.enabled": False,
}


def set_args(sets: dict) -> list[str]:
    return [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]


# The zygote: reads one JSON command per line, answers one JSON line.
_ZYGOTE = r"""
import json, os, sys, time, traceback
from gankit import cli
# What a training command imports lazily, imported once here rather than in every child:
# the loop, torch._dynamo (Adam's constructor pulls it in) and matplotlib (loss plots).
import gankit.training.loop, torch._dynamo, matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot

def stall(marker):
    open(marker, "w").close()
    time.sleep(600)

def install_hook(hook, marker):
    # Stall inside a checkpoint write so the test can kill exactly there.
    if hook == "mid_write":  # half of the checkpoint's bytes written, whichever file they go to
        import builtins
        real_fdopen, real_open = os.fdopen, builtins.open
        class HalfWriter:
            def __init__(self, f):
                self.f = f
            def write(self, data):
                self.f.write(data[: len(data) // 2]); self.f.flush(); stall(marker)
            def __getattr__(self, name):
                return getattr(self.f, name)
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return self.f.__exit__(*exc)
        def is_ckpt(name):
            return "ckpt_" in os.path.basename(str(name))
        def fdopen(fd, mode="r", *a, **k):
            f = real_fdopen(fd, mode, *a, **k)
            name = os.readlink(f"/proc/self/fd/{fd}")
            return HalfWriter(f) if "w" in mode and is_ckpt(name) else f
        def open_(file, mode="r", *a, **k):
            f = real_open(file, mode, *a, **k)
            return HalfWriter(f) if "w" in mode and is_ckpt(file) else f
        os.fdopen, builtins.open = fdopen, open_
    elif hook == "before_fsync":  # data written to the temporary file, not yet synced/renamed
        real = os.fsync
        def fsync(fd):
            if ".ckpt_" in os.readlink(f"/proc/self/fd/{fd}"):
                stall(marker)
            return real(fd)
        os.fsync = fsync
    elif hook == "before_rename":  # temporary file complete and synced, not yet renamed
        real = os.replace
        def replace(src, dst):
            if str(dst).endswith(".safetensors"):
                stall(marker)
            return real(src, dst)
        os.replace = replace

for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "run":
        pid = os.fork()
        if pid == 0:
            code = 99
            try:
                null = os.open(os.devnull, os.O_RDONLY)
                log = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(null, 0); os.dup2(log, 1); os.dup2(log, 2)
                if cmd.get("hook"):
                    install_hook(cmd["hook"], cmd["marker"])
                code = cli.main(cmd["argv"])
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush(); sys.stderr.flush()
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
    elif cmd["op"] == "wait":
        _, status = os.waitpid(cmd["pid"], 0)
        out = {"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
               "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}
        print(json.dumps(out), flush=True)
"""


class Zygote:
    """A process that has imported gankit and forks `gankit` commands on request."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=CHILD_ENV,
            text=True,
        )
        self.children: set[int] = set()

    def _ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the zygote process died"
        return json.loads(line)

    def run(self, argv: list[str], log: Path, hook: str | None = None, marker: Path | None = None):
        pid = self._ask(op="run", argv=argv, log=str(log), hook=hook, marker=str(marker))["pid"]
        self.children.add(pid)
        return pid

    def wait(self, pid: int) -> dict:
        """{"signal": N or None, "code": exit status or None} once ``pid`` has ended."""
        out = self._ask(op="wait", pid=pid)
        self.children.discard(pid)
        return out

    def close(self) -> None:
        for pid in list(self.children):  # commands still running after a failed test
            try:
                os.kill(pid, signal.SIGKILL)
                self.wait(pid)
            except (OSError, AssertionError):
                pass
        if self.proc.poll() is None:
            self.proc.stdin.close()  # its loop ends at end of input
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def newest_step(run: Path) -> int:
    """Step of the newest checkpoint file name, -1 if none (names only: nothing is read)."""
    paths = RunDir(run).checkpoint_paths()
    return int(paths[-1].stem.split("_")[1]) if paths else -1


def wait_until(cond, what: str, log: Path | None = None, limit: float = 300.0) -> None:
    """Poll ``cond``; the limit only keeps a broken test from hanging, it is not a timing test."""
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            text = log.read_text()[-2000:] if log is not None and log.exists() else ""
            raise AssertionError(f"gave up waiting for {what}; log:\n{text}")
        time.sleep(0.01)


def final_state(run: Path) -> tuple[int, dict[str, torch.Tensor]]:
    ckpt = RunDir(run).load_checkpoint()
    return ckpt.step, ckpt.tensors


def comparable_stats(run: Path) -> list[dict]:
    """Stats records without wall-clock time and live diagnostics (which read G's last
    gradients, not saved in checkpoints)."""
    return [
        {k: v for k, v in r.items() if k != "sec_per_step" and not k.startswith("diag/")}
        for r in RunDir(run).read_stats()
    ]


def assert_same_run(a: Path, b: Path) -> None:
    """Bitwise-equal final training state (every tensor, RNG states included) and stats."""
    step_a, ta = final_state(a)
    step_b, tb = final_state(b)
    assert step_a == step_b
    assert ta.keys() == tb.keys(), sorted(set(ta) ^ set(tb))
    diff = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not diff, f"resumed run differs in {diff[:5]}"
    assert comparable_stats(a) == comparable_stats(b)
