"""The helper scripts of docker/freeswitch.Dockerfile, run for real on this machine."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from .ops_files import DOCKER

FETCH = DOCKER / "freeswitch" / "fetch-sources.sh"
RUNTIME_PACKAGES = DOCKER / "freeswitch" / "runtime-packages.sh"


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_repo(path: Path, name: str) -> str:
    path.mkdir()
    git("init", "-q", cwd=path)
    (path / "configure.ac").write_text(f"{name}\n")
    git("add", ".", cwd=path)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", name, cwd=path)
    (path / "later.txt").write_text("not in the pinned commit\n")
    pinned = git("rev-parse", "HEAD", cwd=path)
    git("add", ".", cwd=path)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "later", cwd=path)
    # GitHub serves any reachable commit by id; a local repository must be told to.
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=path)
    return pinned


def test_fetch_sources_packs_each_pinned_commit_as_build_sh_expects(tmp_path: Path) -> None:
    need("git", "xz")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    commits = {}
    for name, var in (("freeswitch", "FREESWITCH"), ("spandsp", "SPANDSP"),
                      ("sofia-sip", "SOFIA_SIP")):
        commits[name] = make_repo(tmp_path / f"repo-{name}", name)
        env[f"{var}_REPO"] = f"file://{tmp_path / f'repo-{name}'}"
        env[f"{var}_COMMIT"] = commits[name]
    (tmp_path / "given").mkdir()
    subprocess.run([str(FETCH), str(tmp_path / "given"), str(tmp_path / "out")], env=env,
                   check=True, capture_output=True, timeout=120)
    for name, commit in commits.items():
        top = f"{name}-{commit[:10]}"
        with tarfile.open(tmp_path / "out" / f"{top}.tar.xz") as tar:
            names = set(tar.getnames())
        assert names == {top, f"{top}/configure.ac"}  # the pinned tree: no .git, no later file


def test_fetch_sources_uses_given_tarballs_without_fetching(tmp_path: Path) -> None:
    given = tmp_path / "given"
    given.mkdir()
    for name in ("freeswitch-cc93a683.tar.xz", "spandsp-0c7bcebe.tar.xz",
                 "sofia-sip-7333682a.tar.xz"):
        (given / name).write_bytes(name.encode())
    out = subprocess.run([str(FETCH), str(given), str(tmp_path / "out")], check=True,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
                         timeout=60)
    assert "using the tarballs" in out.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        p.name for p in given.iterdir())


def test_runtime_packages_names_the_packages_of_linked_libraries(tmp_path: Path) -> None:
    need("dpkg-query", "ldd", "file")
    packaged = [p for p in ("/bin/ls", "/usr/bin/ls") if Path(p).exists() and not
                subprocess.run(["dpkg-query", "-S", p], capture_output=True).returncode]
    if not packaged:
        pytest.skip("no ls from a Debian package")
    (tmp_path / "bin").mkdir()
    shutil.copy(packaged[0], tmp_path / "bin" / "ls")
    (tmp_path / "bin" / "notes.txt").write_text("not an ELF file\n")
    out = subprocess.run([str(RUNTIME_PACKAGES), str(tmp_path)], check=True,
                         capture_output=True, text=True, timeout=60)
    packages = out.stdout.split()
    assert "libc6" in packages
    assert packages == sorted(set(packages))
