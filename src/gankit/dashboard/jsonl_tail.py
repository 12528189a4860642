"""Incremental reading of a JSONL file that another process is appending to.

Training appends one record per line to ``stats.jsonl`` (and ``metrics.jsonl``). A poll every
second must not re-parse 10,000 lines, so a :class:`JsonlTail` remembers the byte offset after
the last complete line and parses only what was appended since. A last line without its
newline is being written (or was cut by a crash) and is left for the next read, as
``RunDir.read_stats`` skips it. A file that was replaced (``gankit resume`` rewrites stats
atomically) or shrank is read again from the start, and ``generation`` changes so that
clients know to drop what they had.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class JsonlTail:
    """The complete records of one JSONL file, kept up to date by :meth:`refresh`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        # Each record as JSON bytes, ready to send: the line as written, unless it held NaN.
        self.raw: list[bytes] = []
        self.nonfinite_step: int | None = None  # first record holding NaN or +-Infinity
        self._offset = 0
        self._inode: int | None = None
        self._resets = 0
        self._lock = threading.Lock()  # the server answers requests on several threads

    @property
    def generation(self) -> str:
        """Changes whenever the records were dropped and read again from the start."""
        return f"{self._inode or 0}.{self._resets}"

    def refresh(self) -> list[dict[str, Any]]:
        """Read what was appended since the last call; returns all records so far."""
        with self._lock:
            self._refresh_locked()
            return self.records

    def _refresh_locked(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._inode is not None:
                self._reset(None)
            return
        if st.st_ino != self._inode or st.st_size < self._offset:
            self._reset(st.st_ino)
        if st.st_size > self._offset:
            self._read_new()

    def since(self, step: float) -> list[dict[str, Any]]:
        """Records whose ``step`` is greater than ``step`` (steps only grow within a generation)."""
        with self._lock:
            first = self._first_after(step)  # may replace self.records: read it afterwards
            return self.records[first:]

    def since_json(self, step: float) -> tuple[bytes, int, str]:
        """The records after ``step`` as one JSON array (bytes), how many records there are in
        all, and the generation they belong to; read together under one lock.

        Built from the lines as written: 10,000 records are joined, not re-encoded.
        """
        with self._lock:
            first = self._first_after(step)
            body = b"[" + b",".join(self.raw[first:]) + b"]"
            return body, len(self.raw), self.generation

    def _first_after(self, step: float) -> int:
        self._refresh_locked()
        lo, hi = 0, len(self.records)
        while lo < hi:  # binary search: a poll of a 10,000-record run stays cheap
            mid = (lo + hi) // 2
            if _step(self.records[mid]) > step:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _reset(self, inode: int | None) -> None:
        self.records, self.raw, self.nonfinite_step = [], [], None
        self._offset, self._inode = 0, inode
        self._resets += 1

    def _read_new(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return  # only a partial line so far
        lines = [ln.strip() for ln in chunk[: end + 1].splitlines() if ln.strip()]
        self._offset += end + 1
        if not self._read_all_at_once(lines):
            for line in lines:
                record, strict = self._parse(line)
                if record is not None:
                    self.records.append(record)
                    self.raw.append(line if strict else json.dumps(record).encode())

    def _read_all_at_once(self, lines: list[bytes]) -> bool:
        """The common case, clean lines, parsed as one JSON array: several times faster than
        line by line on a 10,000-record first load. False: take the careful path instead."""

        def refuse(_name: str) -> None:
            raise ValueError("non-finite value")

        try:
            records = json.loads(b"[" + b",".join(lines) + b"]", parse_constant=refuse)
        except (ValueError, UnicodeDecodeError):  # a damaged line or NaN somewhere
            return False
        if len(records) != len(lines) or not all(isinstance(r, dict) for r in records):
            return False  # a line holding two values ("1, 2") or a non-object
        self.records.extend(records)
        self.raw.extend(lines)
        return True

    def _parse(self, line: bytes) -> tuple[dict[str, Any] | None, bool]:
        """(the record or None, whether the line was strict JSON without NaN / Infinity)."""
        found_nonfinite = False

        def nonfinite(_name: str) -> None:
            # Browsers' JSON.parse rejects NaN and Infinity: send null, remember the failure.
            nonlocal found_nonfinite
            found_nonfinite = True
            return None

        try:
            record = json.loads(line, parse_constant=nonfinite)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None, False  # damaged by a crash: skipped, like RunDir.read_stats does
        if not isinstance(record, dict):
            return None, False
        if found_nonfinite and self.nonfinite_step is None:
            self.nonfinite_step = int(_step(record)) if _step(record) >= 0 else 0
        return record, not found_nonfinite


def _step(record: dict[str, Any]) -> float:
    step = record.get("step")
    return step if isinstance(step, int | float) else -1
