"""Start-up failures a newcomer can act on: one `error:` line naming the setting to change,
no traceback, exit 2. Directory permissions are checked as the unprivileged user `nobody`
(the suite runs as root in CI, where every directory is writable)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

ROOT = Path(__file__).resolve().parents[2]
SETPRIV = shutil.which("setpriv")


def esl_recorder(*args: str, as_nobody: bool = False,
                 cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESL_RECORDER_")}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "esl_recorder", *args]
    if as_nobody:
        assert SETPRIV is not None
        command = [SETPRIV, "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                   *command]
        env["HOME"] = "/nonexistent"
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.stderr
    return errors[0]


@pytest.fixture
def nobody() -> None:
    if os.geteuid() != 0 or SETPRIV is None:
        pytest.skip("needs root and setpriv to run the daemon as the user nobody")


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Iterator[Path]:
    """A temporary directory `nobody` can write in (pytest's own is root's, mode 0700)."""
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"esl_recorder-{os.getpid()}-{id(tmp_path)}"
    path.mkdir(mode=0o777)
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def write_config(path: Path, **sections: Any) -> Path:
    config = {"nodes": [{"name": "fs1", "host": "127.0.0.1", "port": 1}], **sections}
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o644)
    return path


def test_the_default_state_directory_unwritable_names_store_path(nobody: None) -> None:
    out = esl_recorder("run", "-c", "conf/esl_recorder.yaml", as_nobody=True)
    line = one_error_line(out)
    assert "store.path" in line and "ESL_RECORDER_STORE_PATH" in line, line
    assert "/var/lib/esl_recorder" in line
    # the recordings root under /var/lib is not writable either: said at once, not on the
    # next try
    assert "recording.root" in line and "ESL_RECORDER_RECORDING_ROOT" in line, line


def test_a_recordings_root_it_cannot_write_names_recording_root(
        nobody: None, shared_tmp: Path) -> None:
    locked = shared_tmp / "locked"
    locked.mkdir(mode=0o755)  # root's, not writable by nobody
    conf = write_config(shared_tmp / "c.yaml",
                        store={"path": str(shared_tmp / "state" / "state.db")},
                        recording={"root": str(locked / "recordings")},
                        http={"port": 0})
    line = one_error_line(esl_recorder("run", "-c", str(conf), as_nobody=True))
    assert "recording.root" in line and str(locked / "recordings") in line, line


def test_a_port_in_use_names_http_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        conf = write_config(tmp_path / "c.yaml", store={"path": str(tmp_path / "s.db")},
                            recording={"root": str(tmp_path / "rec")}, http={"port": port})
        line = one_error_line(esl_recorder("run", "-c", str(conf)))
    assert "http.port" in line and f"127.0.0.1:{port} is already in use" in line, line


def test_a_metrics_port_in_use_names_http_metrics_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        conf = write_config(tmp_path / "c.yaml", store={"path": str(tmp_path / "s.db")},
                            recording={"root": str(tmp_path / "rec")},
                            http={"port": 0, "metrics_port": port})
        line = one_error_line(esl_recorder("run", "-c", str(conf)))
    assert "http.metrics_port" in line and f"127.0.0.1:{port}" in line, line


def test_a_store_file_it_cannot_write_names_store_path(nobody: None, shared_tmp: Path) -> None:
    """A database left by a run as another user (root's, mode 0644) in a directory this user
    may write in."""
    state = shared_tmp / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)
    db = state / "state.db"
    sqlite3.connect(db).close()
    db.chmod(0o644)
    conf = write_config(shared_tmp / "c.yaml", store={"path": str(db)},
                        recording={"root": str(shared_tmp / "recordings")}, http={"port": 0})
    line = one_error_line(esl_recorder("run", "-c", str(conf), as_nobody=True))
    assert "store.path" in line and f"{db} is not writable by this user" in line, line


def test_a_store_directory_it_cannot_write_names_store_path(nobody: None,
                                                           shared_tmp: Path) -> None:
    locked = shared_tmp / "locked"
    locked.mkdir(mode=0o755)  # exists, root's
    conf = write_config(shared_tmp / "c.yaml", store={"path": str(locked / "state.db")},
                        recording={"root": str(shared_tmp / "recordings")}, http={"port": 0})
    line = one_error_line(esl_recorder("run", "-c", str(conf), as_nobody=True))
    assert "store.path" in line and f"{locked} is not writable by this user" in line, line


def test_an_existing_recordings_root_it_cannot_write_names_recording_root(
        nobody: None, shared_tmp: Path) -> None:
    locked = shared_tmp / "recordings"
    locked.mkdir(mode=0o755)  # exists, root's
    conf = write_config(shared_tmp / "c.yaml", store={"path": str(shared_tmp / "s" / "s.db")},
                        recording={"root": str(locked)}, http={"port": 0})
    line = one_error_line(esl_recorder("run", "-c", str(conf), as_nobody=True))
    assert "recording.root" in line and f"{locked} is not writable by this user" in line, line


def test_a_store_file_that_is_not_a_database_names_store_path(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"not an SQLite database, just some text\n" * 100)
    conf = write_config(tmp_path / "c.yaml", store={"path": str(db)},
                        recording={"root": str(tmp_path / "rec")}, http={"port": 0})
    line = one_error_line(esl_recorder("run", "-c", str(conf)))
    assert "store.path" in line and str(db) in line and "not a database" in line, line


def test_a_certificate_it_cannot_read_names_http_tls_cert(nobody: None,
                                                          shared_tmp: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = shared_tmp / "cert.pem", shared_tmp / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    cert.chmod(0o600)  # root's: this user cannot read it
    key.chmod(0o644)
    conf = write_config(shared_tmp / "c.yaml", store={"path": str(shared_tmp / "s" / "s.db")},
                        recording={"root": str(shared_tmp / "rec")},
                        http={"port": 0, "tls_cert": str(cert), "tls_key": str(key)})
    line = one_error_line(esl_recorder("run", "-c", str(conf), as_nobody=True))
    assert line == f"error: {conf}: http.tls_cert: cannot read '{cert}': Permission denied", line


def test_the_simulator_on_a_busy_port_names_its_port_option() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_error_line(esl_recorder("fakeswitch", "--port", str(port)))
    assert line == (f"error: fakeswitch: --port: 127.0.0.1:{port} is already in use; choose "
                    "a free port, or leave --port out for one"), line


def test_the_simulator_listens_on_a_free_port_by_default_not_8021() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESL_RECORDER_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "esl_recorder", "fakeswitch"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("fakeswitch listening on 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        assert port != 8021
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            assert conn.recv(100).startswith(b"Content-Type: auth/request")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_demo_on_a_busy_port_names_its_port_option() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_error_line(esl_recorder("demo", "--port", str(port)))
    assert line.startswith(f"error: demo: --port: 127.0.0.1:{port} is already in use"), line
