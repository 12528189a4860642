"""`gankit diagnose RUN [--json]` on tiny runs; bad input is a one-line error."""

import json

from gankit.cli import main
from gankit.runs import RunDir
from gankit.training.diagnostics import Finding, write_diagnosis
from tests.conftest import TINY_TOY


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def train_tiny(capsys, run, *extra, steps=10):
    sets = [x for k, v in TINY_TOY.items() for x in ("--set", f"{k}={v}")]
    code, _, _ = run_cli(
        capsys, "train", "toy-ring", "--out", run, "--steps", steps, "--quiet", *sets, *extra
    )
    assert code == 0


def test_diagnose_json_lists_findings_with_evidence_and_remedy(capsys, tmp_path):
    run = tmp_path / "R"
    train_tiny(capsys, run)
    # a finding the live callback would write (e.g. the `nan` that stopped a run)
    write_diagnosis(RunDir(run), [Finding("nan", 7, {"non_finite": "loss/d_adv"}, "lower lr")], 7)
    code, out, err = run_cli(capsys, "diagnose", run, "--json")
    assert code == 0, err
    body = json.loads(out)
    assert list(body) == ["findings"]
    assert body["findings"] == [
        {"kind": "nan", "step": 7, "evidence": {"non_finite": "loss/d_adv"}, "remedy": "lower lr"}
    ]


def test_diagnose_replays_detectors_on_stats(capsys, tmp_path):
    run = tmp_path / "R"
    train_tiny(capsys, run, "--set", "diagnose.enabled=false", steps=15)  # 3 records
    (run / "diagnosis.json").unlink(missing_ok=True)
    stats = RunDir(run).stats_path
    lines = [json.loads(x) for x in stats.read_text().splitlines()]
    for r in lines:  # make D win in every record
        r.update({"D(x)": 0.99, "D(G(z))": 0.01, "loss/d_adv": 0.02})
    stats.write_text("".join(json.dumps(r) + "\n" for r in lines))
    code, out, _ = run_cli(capsys, "diagnose", run, "--json")
    kinds = [f["kind"] for f in json.loads(out)["findings"]]
    assert code == 0 and kinds == ["discriminator_wins"]
    code, out, _ = run_cli(capsys, "diagnose", run)
    assert code == 0 and "discriminator_wins" in out and "Remedy" in out
    assert "diagnose.enabled=false" in out  # says why mode collapse could not be judged


def test_diagnose_healthy_run_human_summary(capsys, tmp_path):
    run = tmp_path / "R"
    train_tiny(capsys, run)
    code, out, _ = run_cli(capsys, "diagnose", run)
    assert code == 0 and "step 10 of" in out


def test_diagnose_not_a_run_is_a_one_line_error(capsys, tmp_path):
    code, out, err = run_cli(capsys, "diagnose", tmp_path / "nothing")
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert code == 2 and len(lines) == 1 and "does not exist" in lines[0]
