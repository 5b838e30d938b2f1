"""Fetch a file from one URL and publish it only if its SHA-256 is the published one.

The workflow's `fetch_weights` job (a local rule: the submit host has the network) uses it for the
Inception files; the same :func:`checksum_problem` checks files a user placed by hand before the
first job. A failed or wrong download leaves nothing behind (``ncsn.io.atomic_path``).
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from ncsn.errors import NcsnError
from ncsn.io import atomic_path, file_sha256

CHUNK = 1 << 20


def checksum_problem(path: str | os.PathLike, expected_sha256: str | None) -> str | None:
    """Why the file at ``path`` is not the expected one (its SHA-256 differs), or None when it is.

    ``expected_sha256`` None means "not verified" (the smoke run's random-weight fixtures).
    """
    if expected_sha256 is None:
        return None
    found = file_sha256(path)
    if found == expected_sha256.lower():
        return None
    return (
        f"file '{path}' has SHA-256 {found}, expected {expected_sha256.lower()} "
        "(a truncated, corrupted or different file); delete it and download it again"
    )


def fetch_verified(url: str, dest: str | os.PathLike, expected_sha256: str | None, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dest`` atomically and return its SHA-256; raise ``NcsnError`` when it is not
    ``expected_sha256`` or the transfer breaks off (nothing is left at ``dest`` then)."""
    dest = Path(dest)
    digest = hashlib.sha256()
    received = 0
    with atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                length = response.headers.get("Content-Length")
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
        except (OSError, ValueError) as err:  # URLError, HTTPError, IncompleteRead, timeouts, a bad URL
            raise NcsnError(f"download of '{dest}' from {url} failed after {received} bytes: {err}") from err
        if length is not None and received != int(length):
            raise NcsnError(
                f"download of '{dest}' from {url} broke off: {received} of {length} bytes received; run again"
            )
        found = digest.hexdigest()
        if expected_sha256 is not None and found != expected_sha256.lower():
            raise NcsnError(
                f"download of '{dest}' from {url}: SHA-256 {found}, expected {expected_sha256.lower()}; "
                "nothing was written (the URL serves another file: check the URL and the expected hash in the config)"
            )
    return found
