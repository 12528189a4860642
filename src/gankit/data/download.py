"""Checksum-verified downloads: nothing unverified ever lands under its final name."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from gankit.errors import DataError

_CHUNK = 1 << 20
TIMEOUT_S = 60


def fetch_verified(url: str, dest: Path, sha256: str) -> Path:
    """Download ``url`` to ``dest`` if its sha256 matches; raise DataError otherwise.

    The bytes go to a temporary file in ``dest``'s folder and are renamed into place only after
    the checksum matches, so an interrupted or tampered download never looks like a good file.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urlopen(url, timeout=TIMEOUT_S) as response:
                    while chunk := response.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            except (URLError, OSError) as exc:
                raise DataError(
                    f"could not download {url} ({exc}); check the network, or fetch the file "
                    f"yourself into {dest.parent}"
                ) from None
        if digest.hexdigest() != sha256:
            raise DataError(
                f"download of {url} has sha256 {digest.hexdigest()}, expected {sha256}; the "
                f"transfer was corrupted or the server changed the file; retry, or place a "
                f"verified copy in {dest.parent}"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
