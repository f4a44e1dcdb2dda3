"""Failing disks and hostile timing against the daemon over real sockets and the simulator."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from api.conftest import api  # noqa: F401
from daemon.conftest import daemon_factory, switch  # noqa: F401


class SmallDisk:
    """A file system of a few hundred KiB (tmpfs with `size=`) that can be filled to the
    last byte and freed again: the very ENOSPC a full disk gives, not an imitation."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._filler = root / "filler"

    def fill(self) -> None:
        """Take every free byte (a write of any size fails after this)."""
        with open(self._filler, "ab", buffering=0) as f:
            for size in (65536, 4096, 512, 1):
                with contextlib.suppress(OSError):
                    while True:
                        f.write(b"\0" * size)

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def is_full(self) -> bool:
        try:
            with open(self.root / "probe", "wb", buffering=0) as f:
                f.write(b"\0" * 4096)
            return False
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
            return True
        finally:
            (self.root / "probe").unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """Needs root (mount). Reliable where `PRAGMA max_page_count` is not: that limit is per
    connection and counts database pages only, while a full disk also stops the WAL and the
    checkpoints, which is what the daemon meets in production."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    root = tmp_path / "small"
    root.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(root)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
