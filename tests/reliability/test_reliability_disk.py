"""A full disk or a read-only directory: one clear line, and nothing already saved is damaged.

The failures are injected where the operating system reports them (fsync, write, creating the
temporary file); where this machine allows mounting, a real 1 MiB tmpfs is filled up and then
remounted read-only as well.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile

import pytest

from gankit import cli
from gankit.config import Config
from gankit.errors import RunError
from gankit.runs import RunDir
from tests.conftest import TINY_TOY
from tests.reliability.reliability_support import set_args

SETS = {**TINY_TOY, "log.checkpoint_every": 5, "diagnose.enabled": False}


def _train(run, steps: int, capsys) -> tuple[int, list[str]]:
    argv = ["train", "toy-ring", "--out", str(run), "--steps", str(steps), "--quiet"]
    code = cli.main(argv + set_args(SETS))
    return code, capsys.readouterr().err.strip().splitlines()


def _resume(run, steps: int, capsys) -> tuple[int, list[str]]:
    code = cli.main(["resume", str(run), "--steps", str(steps), "--quiet"])
    return code, capsys.readouterr().err.strip().splitlines()


def _saved(run) -> dict[str, bytes]:
    """Every file of the run that a failed write must leave alone (pictures aside)."""
    files = [run / "config.json", run / "stats.jsonl", *RunDir(run).checkpoints_dir.iterdir()]
    return {f.name: f.read_bytes() for f in files}


def _intact(run, before: dict[str, bytes]) -> bool:
    """The checkpoints are byte for byte those of ``before``; config and stats are whole."""
    rd = RunDir(run)
    ckpts = {p.name: p.read_bytes() for p in rd.checkpoints_dir.iterdir()}
    old = {k: v for k, v in before.items() if k.endswith(".safetensors")}
    old_records = before["stats.jsonl"].decode().splitlines()
    new_records = rd.stats_path.read_text().splitlines()
    return (
        ckpts == old
        and rd.load_checkpoint().step == 5
        and rd.config().train.steps in (5, 10)
        and rd.stats_path.read_bytes().endswith(b"\n")
        and len(rd.read_stats()) == len(new_records)
        and new_records[: len(old_records)] == old_records
    )


def _enospc(*_):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_during_a_checkpoint(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert _train(run, 5, capsys)[0] == 0
    before = _saved(run)
    real_fsync = os.fsync

    def fsync(fd):  # the kernel reports a full disk when the data must reach it
        if ".ckpt_" in os.readlink(f"/proc/self/fd/{fd}"):
            _enospc()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    code, err = _resume(run, 12, capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"gankit: error: no space left on the disk holding {run}")
    assert "files saved before are unchanged" in err[0]
    assert err[0].endswith(f"Free some space, then continue with `gankit resume {run}`.")
    after = _saved(run)
    assert after["ckpt_00000005.safetensors"] == before["ckpt_00000005.safetensors"]
    assert sorted(after) == sorted(before)  # no temporary file left, no new checkpoint
    assert RunDir(run).load_checkpoint().step == 5

    monkeypatch.setattr(os, "fsync", real_fsync)  # space freed: the run goes on
    assert _resume(run, 12, capsys)[0] == 0
    assert RunDir(run).load_checkpoint().step == 12


def test_disk_full_while_appending_stats_leaves_no_partial_record(tmp_path, monkeypatch):
    rd = RunDir.create(tmp_path / "run", Config())
    rd.append_stats({"step": 1, "loss/d_adv": 0.5})
    before = rd.stats_path.read_bytes()
    real_write = os.write
    calls = []

    def write(fd, data):  # half the record reaches the disk, then it is full
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        _enospc()

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(RunError, match="no space left"):
        rd.append_stats({"step": 2, "loss/d_adv": 0.25})
    monkeypatch.setattr(os, "write", real_write)
    assert len(calls) == 2 and rd.stats_path.read_bytes() == before  # the half is gone
    rd.append_stats({"step": 3, "loss/d_adv": 0.125})
    assert [r["step"] for r in rd.read_stats()] == [1, 3]


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_unwritable_run_directory(code, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert _train(run, 5, capsys)[0] == 0
    before = _saved(run)

    def mkstemp(*args, **kwargs):  # what the kernel answers for a read-only mount / no access
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    code_, err = _resume(run, 10, capsys)
    assert code_ == 2 and len(err) == 1, err
    assert f"{run} is not writable ({os.strerror(code)})" in err[0]
    assert "Make it writable (or use another directory)" in err[0]
    assert _saved(run) == before


def test_chmod_read_only_directory(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes through chmod; see the injected and the mounted tests")
    run = tmp_path / "run"
    assert _train(run, 5, capsys)[0] == 0
    before = _saved(run)
    for d in (run, run / "checkpoints"):
        d.chmod(0o555)
    try:
        code, err = _resume(run, 10, capsys)
    finally:
        for d in (run, run / "checkpoints"):
            d.chmod(0o755)
    assert code == 2 and "is not writable" in err[-1]
    assert _saved(run) == before


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB tmpfs (needs root with CAP_SYS_ADMIN; skipped elsewhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_real_full_disk_then_read_only_mount(small_disk, capsys):
    run = small_disk / "run"
    assert _train(run, 5, capsys)[0] == 0
    before = _saved(run)
    st = os.statvfs(small_disk)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - 4096))  # one page left

    code, err = _resume(run, 10, capsys)
    assert code == 2 and len(err) == 1, err
    assert f"no space left on the disk holding {run}" in err[0]
    # The resume got as far as it could (config.json, some stats records); what it wrote is
    # whole, and the checkpoint it could not replace is untouched.
    assert _intact(run, before)

    filler.unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        code, err = _resume(run, 10, capsys)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert code == 2 and len(err) == 1, err
    assert "is not writable (Read-only file system)" in err[0]
    assert _intact(run, before)

    assert _resume(run, 10, capsys)[0] == 0  # writable again with room: it goes on
    assert RunDir(run).load_checkpoint().step == 10
