"""Path checks: every file the dashboard serves must lie inside the runs directory.

Requests name runs by id and pictures by step number, never by path, so a path comes from a
URL only through a run id. Still, each id segment is checked and every final path is resolved
(following symlinks) and required to be inside the root, so that ``..``, absolute paths,
URL-encoded traversal and symlinks pointing out of the root are all refused.
"""

from __future__ import annotations

from pathlib import Path


class PathRefused(Exception):
    """A requested path that is not inside the runs directory."""


def check_segment(segment: str) -> str:
    """One path component from a URL, already percent-decoded; refuses anything but a name."""
    if (
        not segment
        or segment in (".", "..")
        or "/" in segment
        or "\\" in segment
        or "\x00" in segment
    ):
        raise PathRefused(f"refused path component {segment!r}")
    return segment


def check_relative_id(run_id: str) -> list[str]:
    """A run id is a relative POSIX path of plain names (``exp1/ring``)."""
    if run_id.startswith("/") or ":" in run_id.split("/")[0]:
        raise PathRefused(f"refused absolute run id {run_id!r}")
    return [check_segment(s) for s in run_id.split("/")]


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved through symlinks; raises PathRefused unless it lies inside ``root``.

    ``root`` must already be resolved.
    """
    resolved = path.resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise PathRefused(f"{path} is outside the runs directory")
    return resolved
