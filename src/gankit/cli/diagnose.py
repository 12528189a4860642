"""`gankit diagnose RUN [--json]`: the failure modes found in a running or finished run.

Replays the detectors of :mod:`gankit.training.diagnostics` on the run's ``stats.jsonl`` and
merges what the live callback wrote to ``diagnosis.json`` (e.g. a ``nan`` that stopped it).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from gankit.runs import RunDir


def diagnose_run(path: str) -> tuple[list, dict]:
    """(findings, summary) of the run at ``path``."""
    from gankit.training.diagnostics import diagnose_records, merge, read_diagnosis

    run = RunDir.open(path)
    cfg = run.config()
    records = run.read_stats()
    findings = merge(read_diagnosis(run), diagnose_records(records, cfg))
    last = records[-1] if records else {}
    summary = {
        "step": last.get("step", 0),
        "steps": cfg.train.steps,
        "measured": any(k.startswith("diag/") for k in last),
        "last": {k: v for k, v in last.items() if k.startswith(("loss/", "D(", "critic", "diag/"))},
    }
    return findings, summary


def _cmd_diagnose(args: argparse.Namespace) -> None:
    findings, summary = diagnose_run(args.run)
    if args.json:
        print(json.dumps({"findings": [asdict(f) for f in findings]}))
        return
    state = "finished" if summary["step"] >= summary["steps"] else "in progress or stopped"
    print(f"{args.run}: step {summary['step']} of {summary['steps']} ({state})")
    if summary["last"]:
        print("  last record: " + ", ".join(f"{k}={v:.4g}" for k, v in summary["last"].items()))
    if not summary["measured"]:
        print(
            "  (no diag/ measurements: trained with diagnose.enabled=false; mode_collapse "
            "cannot be judged from losses alone)"
        )
    if not findings:
        print("no failure mode found.")
    for f in findings:
        print(f"- {f.summary()}")


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("diagnose", help="report failure modes of a run (live or finished)")
    p.add_argument("run", help="a run directory")
    p.add_argument("--json", action="store_true", help='print {"findings": [...]} as JSON')
    p.set_defaults(func=_cmd_diagnose)
