"""The running / finished / failed rule, on evidence and on real run directories."""

import json
import os
import time

import pytest

from gankit.dashboard.catalog import RunCatalog
from gankit.dashboard.status import IDLE_SECONDS, Evidence, run_status


def evidence(**kw):
    base = dict(
        target_step=100,
        checkpoint_steps=[50],
        last_step=60,
        nonfinite_step=None,
        findings=[],
        idle_seconds=1.0,
    )
    return Evidence(**{**base, **kw})


def test_recently_active_run_short_of_its_target_is_running():
    assert run_status(evidence())[0] == "running"


def test_final_checkpoint_means_finished_even_when_idle():
    status, reason = run_status(evidence(checkpoint_steps=[50, 100], idle_seconds=1e6))
    assert status == "finished" and "100" in reason


def test_idle_short_of_target_is_failed():
    status, reason = run_status(evidence(idle_seconds=IDLE_SECONDS + 1))
    assert status == "failed" and "stopped at step 60 of 100" in reason


def test_slow_runs_get_a_longer_idle_limit():
    # 10 s per step and a record every 50 steps: 500 s between records is normal.
    slow = evidence(idle_seconds=IDLE_SECONDS + 60, sec_per_step=10.0, stats_every=50)
    assert run_status(slow)[0] == "running"


def test_nonfinite_stats_or_nan_finding_is_failed():
    assert run_status(evidence(nonfinite_step=40))[0] == "failed"
    nan = [{"kind": "nan", "step": 30, "evidence": "loss is NaN", "remedy": "lower lr"}]
    status, reason = run_status(evidence(findings=nan, checkpoint_steps=[100]))
    assert status == "failed" and "30" in reason
    other = [{"kind": "mode_collapse", "step": 30}]
    assert run_status(evidence(findings=other))[0] == "running"


def test_status_file_wins():
    declared = {"status": "finished", "reason": "stopped early by the user"}
    assert run_status(evidence(status_file=declared)) == ("finished", "stopped early by the user")
    assert run_status(evidence(status_file={"status": "bogus"}))[0] == "running"


def write_run(path, steps=100, stats=(), ckpts=()):
    (path / "checkpoints").mkdir(parents=True)
    (path / "config.json").write_text(
        json.dumps({"preset": "toy-ring", "train": {"steps": steps}, "log": {"stats_every": 5}})
    )
    (path / "stats.jsonl").write_text("".join(s + "\n" for s in stats))
    for c in ckpts:
        (path / "checkpoints" / f"ckpt_{c:08d}.safetensors").write_bytes(b"x")


@pytest.mark.parametrize(
    "stats, ckpts, age, expected",
    [
        (['{"step": 5, "loss/d": 1.0}'], [], 0, "running"),
        (['{"step": 5, "loss/d": 1.0}'], [], 3600, "failed"),
        (['{"step": 100, "loss/d": 1.0}'], [100], 3600, "finished"),
        (['{"step": 5, "loss/d": NaN}'], [], 0, "failed"),
    ],
)
def test_status_inferred_from_files(tmp_path, stats, ckpts, age, expected):
    run = tmp_path / "r"
    write_run(run, stats=stats, ckpts=ckpts)
    old = time.time() - age
    for p in [run, *run.rglob("*")]:
        os.utime(p, (old, old))
    [view] = RunCatalog(tmp_path).runs()
    assert view.summary()["status"] == expected


def test_nan_finding_in_diagnosis_file(tmp_path):
    run = tmp_path / "r"
    write_run(run, stats=['{"step": 5}'])
    finding = {"kind": "nan", "step": 5, "evidence": "D loss NaN", "remedy": "lower train.lr_d"}
    (run / "diagnosis.json").write_text(json.dumps({"findings": [finding]}))
    summary = RunCatalog(tmp_path).get("r").detail()
    assert summary["status"] == "failed" and summary["findings"] == [finding]
