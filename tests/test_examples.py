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


def test_readme_python_snippet_runs(tmp_path, monkeypatch):
    """The README's Python block, as written, on a tiny budget (steps cut to 30)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert "gankit.train(" in block and "steps=3000" in block
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block.replace("steps=3000", "steps=30"), "README.md", "exec"), scope)
    assert tuple(scope["points"].shape) == (2500, 2)
