"""Incremental JSONL reading of files that are being written."""

import json
import os

from gankit.dashboard.jsonl_tail import JsonlTail


def line(step, **kw):
    return json.dumps({"step": step, **kw}) + "\n"


def test_reads_only_complete_lines_and_picks_up_appends(tmp_path):
    path = tmp_path / "stats.jsonl"
    tail = JsonlTail(path)
    assert tail.refresh() == []  # no file yet
    full = line(1, a=0.5) + line(2, a=0.25)
    path.write_text(full + line(3, a=0.125)[:9])  # the third record is half-written
    assert [r["step"] for r in tail.refresh()] == [1, 2]
    with open(path, "a") as f:
        f.write(line(3, a=0.125)[9:])
    assert [r["step"] for r in tail.refresh()] == [1, 2, 3]
    assert tail.records[-1]["a"] == 0.125


def test_only_appended_bytes_are_read_again(tmp_path):
    path = tmp_path / "stats.jsonl"
    path.write_text("".join(line(s, v=1) for s in range(100)))
    tail = JsonlTail(path)
    tail.refresh()
    # Change an old record in place (same inode, same size): a reader that starts over would
    # see v=2; one that remembers its offset reads only the new record.
    with open(path, "r+b") as f:
        f.write(line(0, v=2).encode())
    with open(path, "a") as f:
        f.write(line(100, v=1))
    records = tail.refresh()
    assert len(records) == 101 and records[0]["v"] == 1 and records[100]["step"] == 100


def test_since_returns_records_after_a_step(tmp_path):
    path = tmp_path / "stats.jsonl"
    path.write_text("".join(line(s) for s in range(0, 100, 5)))
    tail = JsonlTail(path)
    assert [r["step"] for r in tail.since(80)] == [85, 90, 95]
    assert [r["step"] for r in tail.since(82)] == [85, 90, 95]
    assert len(tail.since(-1)) == 20 and tail.since(95) == []


def test_nonfinite_values_become_null_and_are_remembered(tmp_path):
    path = tmp_path / "stats.jsonl"
    path.write_text(line(5, loss=1.0) + '{"step": 10, "loss": NaN, "x": -Infinity}\n')
    tail = JsonlTail(path)
    records = tail.refresh()
    assert records[1] == {"step": 10, "loss": None, "x": None}
    assert tail.nonfinite_step == 10
    body, count, _ = tail.since_json(-1)  # what the server sends: strict JSON for browsers

    def refuse(name):
        raise AssertionError(f"{name} in the JSON sent to the browser")

    assert json.loads(body, parse_constant=refuse) == records and count == 2


def test_damaged_lines_are_skipped(tmp_path):
    path = tmp_path / "stats.jsonl"
    path.write_text(line(1) + '{"step": 2, "los\n' + "[1, 2]\n" + line(3))
    assert [r["step"] for r in JsonlTail(path).refresh()] == [1, 3]


def test_replaced_or_truncated_file_is_read_again(tmp_path):
    path = tmp_path / "stats.jsonl"
    path.write_text("".join(line(s) for s in range(10)))
    tail = JsonlTail(path)
    tail.refresh()
    gen = tail.generation
    # `gankit resume` rewrites stats.jsonl atomically (a new file) without the later records.
    tmp = tmp_path / "new.jsonl"
    tmp.write_text("".join(line(s) for s in range(4)))
    os.replace(tmp, path)
    assert [r["step"] for r in tail.refresh()] == [0, 1, 2, 3]
    assert tail.generation != gen
    gen = tail.generation
    with open(path, "r+") as f:  # shrunk in place
        f.truncate(len(line(0)))
    assert [r["step"] for r in tail.refresh()] == [0]
    assert tail.generation != gen
