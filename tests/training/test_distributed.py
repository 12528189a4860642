"""Two-process training with torchrun + gloo on the CPU (issue 8 acceptance)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gankit.runs import RunDir
from tests.conftest import TINY_DCGAN

HERE = Path(__file__).resolve().parent
TINY = {
    **TINY_DCGAN,
    "log.checkpoint_every": 6,
    "log.sample_every": 6,
    "log.stats_every": 3,
    "train.deterministic": True,
}
SETS = [f"{k}={v}" for k, v in TINY.items()]


def torchrun(*args, nproc=2):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        *map(str, args),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def gankit_cli(*args):
    out = []
    for a in args:
        out.append(str(a))
    return ["-m", "gankit", *out]


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    sets = [x for s in SETS for x in ("--set", s)]
    # uninterrupted: 12 steps with 2 processes
    torchrun(
        *gankit_cli(
            "train", "dcgan-digits", "--out", root / "full", "--steps", 12, "--quiet", *sets
        )
    )
    # interrupted at step 7 (mid-epoch, between checkpoints), then resumed to 12
    torchrun(
        *gankit_cli("train", "dcgan-digits", "--out", root / "half", "--steps", 7, "--quiet", *sets)
    )
    torchrun(*gankit_cli("resume", root / "half", "--steps", 12, "--quiet"))
    return root


def test_both_ranks_hold_identical_weights(tmp_path):
    result = tmp_path / "result.json"
    torchrun(HERE / "ddp_worker.py", tmp_path / "run", result, 9, "dcgan-digits", *SETS)
    verdict = json.loads(result.read_text())
    assert verdict["world_size"] == 2
    assert verdict["identical"], verdict["max_abs_diff"]


def test_one_checkpoint_and_one_set_of_samples(ddp_runs):
    run = RunDir(ddp_runs / "full")
    assert [p.name for p in run.checkpoint_paths()] == [
        "ckpt_00000006.safetensors",
        "ckpt_00000012.safetensors",
    ]
    assert sorted(p.name for p in run.samples_dir.glob("step_*.png")) == [
        "step_00000000.png",
        "step_00000006.png",
        "step_00000012.png",
    ]
    assert [r["step"] for r in run.read_stats()] == [3, 6, 9, 12]  # one record per step
    assert run.load_checkpoint().meta["world_size"] == 2
    assert not list(run.checkpoints_dir.glob("*.tmp"))


def test_distributed_resume_equals_uninterrupted(ddp_runs):
    full = RunDir(ddp_runs / "full").load_checkpoint()
    half = RunDir(ddp_runs / "half").load_checkpoint()
    assert full.step == half.step == 12
    diff = [k for k in full.tensors if not torch.equal(full.tensors[k], half.tensors[k])]
    assert not diff, diff[:5]


def test_resume_with_other_process_count_is_refused(ddp_runs, capsys):
    from gankit.cli import main

    code = main(["resume", str(ddp_runs / "full"), "--steps", "15", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "--nproc_per_node=2" in err and "Traceback" not in err
