"""A finished recording's local file as finalize left it, read for an upload (to S3,
media.py; to a customer's URL, uploads.py): its size and sha256 were stored with the upload
item, and the bytes sent must be those."""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

from .policy import Attempt

DONE = Attempt(200)


class DigestMismatch(Exception):
    """The bytes read for the upload are not the bytes hashed at finalize."""


class HashingReader:
    """Reads at most `size` bytes of `f`, hashing them; the read that completes them
    raises DigestMismatch when their sha256 is not `expected`."""

    def __init__(self, f: BinaryIO, size: int, expected: str) -> None:
        self._f = f
        self._left = size
        self._expected = expected
        self._digest = hashlib.sha256()

    def read(self, n: int = -1, /) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n) if n else b""
        self._digest.update(data)
        self._left -= len(data)
        if self._left == 0 and self._digest.hexdigest() != self._expected:
            raise DigestMismatch(f"sha256 of the bytes read is {self._digest.hexdigest()}, "
                                 f"finalize computed {self._expected}")
        return data


def open_finalized(sid: str, path: str, size: int) -> BinaryIO | Attempt | None:
    """The file open for reading; None when it is gone; an Attempt given up at once when
    its size is not the one finalize saw (the caller closes the file)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 (the caller closes it)
    except FileNotFoundError:
        return None
    found = os.fstat(f.fileno()).st_size
    if found != size:
        f.close()
        return refused(sid, f"the file is {found} bytes, finalize saw {size}")
    return f


def refused(sid: str, reason: str) -> Attempt:
    """Given up at once (the outbox logs it with the item's key)."""
    return Attempt(None, f"recording {sid}: {reason}", refused=True)
