"""Every benchmark script answers --help without running anything (issue 19: one ignored it,
ran for minutes and overwrote the pictures the docs show)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_exits_before_any_work(script, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    monkeypatch.syspath_prepend(str(script.parent))  # as `python benchmarks/x.py` would
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(script), run_name="__main__")
    assert stop.value.code in (0, None)
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["aae_fashion.py", "probe_fashion.py"])
@pytest.mark.parametrize(
    "override, needle",
    [
        ("train.bogus=1", "unknown config key 'train.bogus'"),
        # the script seeds its trainings itself; api.train's seed would silently win
        ("train.seed=3", "not train.seed"),
    ],
)
def test_bad_set_is_refused_in_one_line_before_any_work(
    name, override, needle, tmp_path, capsys, monkeypatch
):
    script = SCRIPTS[0].parent / name
    cache = tmp_path / "cache.json"
    argv = [str(script), "--set", override, "--cache", str(cache)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.syspath_prepend(str(script.parent))
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(script), run_name="__main__")
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err
    assert not cache.exists()  # nothing trained, nothing written
