"""The documented example runs as written (with fewer steps)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_example_runs(tmp_path):
    out = tmp_path / "qs"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "quickstart.py"),
            "--out",
            str(out),
            "--steps",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "modes" in proc.stdout and "high-quality" in proc.stdout
    assert (out / "quickstart_points.png").stat().st_size > 0
    assert (out / "frames" / "progress.gif").exists()
