"""Which directories lie on this machine's own file systems: a read there waits on a local
disk or the page cache, never on a network (NFS, CIFS, FUSE and the like), whose server may
keep it waiting for seconds."""

from __future__ import annotations

import os
import re

MOUNTINFO = "/proc/self/mountinfo"
# File systems whose data is on this machine (overlay: a container's own layers).
LOCAL_FILESYSTEMS = frozenset({"btrfs", "ext2", "ext3", "ext4", "f2fs", "jfs", "overlay",
                               "ramfs", "reiserfs", "tmpfs", "xfs", "zfs"})
_ESCAPED = re.compile(r"\\([0-7]{3})")  # mountinfo writes a space in a path as \040


def local_filesystem(path: str, mountinfo: str = MOUNTINFO) -> bool:
    """Whether `path`, and every file system mounted below it, is one of LOCAL_FILESYSTEMS.
    False when that cannot be told (no mountinfo to read: not Linux)."""
    mounts = read_mounts(mountinfo)
    real = os.path.realpath(path)
    holding = [(len(point), i) for i, (point, _) in enumerate(mounts) if _within(real, point)]
    if not holding:
        return False
    top = mounts[max(holding)[1]]  # the longest mount point; of equal ones, the last mounted
    below = [m for m in mounts if _within(m[0], real) and m[0] != top[0]]
    return all(fstype in LOCAL_FILESYSTEMS for _, fstype in (top, *below))


def read_mounts(mountinfo: str = MOUNTINFO) -> list[tuple[str, str]]:
    """(mount point, file system type) of every mount, in the order they were mounted."""
    mounts = []
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields, sep, rest = line.partition(" - ")
                parts, after = fields.split(), rest.split()
                if sep and len(parts) >= 5 and after:
                    point = _ESCAPED.sub(lambda m: chr(int(m.group(1), 8)), parts[4])
                    mounts.append((point, after[0]))
    except OSError:
        return []
    return mounts


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")
