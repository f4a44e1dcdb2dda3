"""Telling a directory on this machine's own file systems from one a network serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from esl_recorder.filesystems import local_filesystem, read_mounts

# /proc/self/mountinfo lines: id, parent, device, root, mount point, options, " - ", type...
MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 27 0:27 / /var/lib/recordings rw,relatime - tmpfs tmpfs rw,size=1024k
31 27 0:28 / /mnt/nas rw,relatime shared:5 - nfs4 nas:/export rw,vers=4.2
32 27 0:29 / /srv/mixed rw - xfs /dev/vdb rw
33 32 0:30 / /srv/mixed/remote rw - cifs //nas/share rw
34 27 0:31 / /srv/with\\040space rw - ext4 /dev/vdc rw
35 27 0:32 / /mnt/nas rw - ext4 /dev/vdd rw
"""


@pytest.fixture
def mountinfo(tmp_path: Path) -> str:
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO)
    return str(path)


@pytest.mark.parametrize("directory,local", [
    ("/var/spool/recordings", True),  # on / (ext4), nothing mounted below
    ("/var/lib/recordings/acme", True),  # tmpfs
    ("/srv/mixed/remote/x", False),  # CIFS
    ("/srv/mixed", False),  # XFS, but a CIFS share is mounted below it
    ("/srv/with space/recordings", True),  # \040 in mountinfo
    ("/mnt/nas/recordings", True),  # an ext4 mounted over the NFS export hides it
    ("/proc/self", False),
])
def test_a_directory_is_local_when_its_file_systems_all_are(
        mountinfo: str, directory: str, local: bool) -> None:
    assert local_filesystem(directory, mountinfo) is local


def test_nfs_is_not_local(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text("27 1 254:0 / / rw - ext4 /dev/vda rw\n"
                    "31 27 0:28 / /recordings rw - nfs4 nas:/export rw\n")
    assert local_filesystem("/recordings/acme/2026", str(info)) is False
    assert local_filesystem("/elsewhere", str(info)) is True


def test_without_mountinfo_nothing_is_known_to_be_local(tmp_path: Path) -> None:
    assert read_mounts(str(tmp_path / "absent")) == []
    assert local_filesystem(str(tmp_path), str(tmp_path / "absent")) is False


def test_a_malformed_line_is_skipped(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text("garbage\n27 1 254:0 / / rw - ext4 /dev/vda rw\n31 27 0:28\n")
    assert read_mounts(str(info)) == [("/", "ext4")]
