#!/usr/bin/env python3
"""Start, stop and restart a FreeSWITCH built by freeswitch/build.sh, in a directory of its own.

    fsctl.py start   --prefix PREFIX --dir DIR [--port N]   # prints shell `export` lines
    fsctl.py stop    --dir DIR
    fsctl.py restart --dir DIR                  # same port, password, recordings; fresh conf
    fsctl.py env     --dir DIR                              # the `export` lines again

`start` copies the project's configuration ($PREFIX/share/esl_recorder/conf) into DIR/conf and
runs `freeswitch -nc -nonat -nonatmap -np` with -conf/-log/-run/-db/-temp/-recordings/-certs
all under DIR, the event socket on 127.0.0.1:<a free port> (or --port), admitting 127.0.0.1
only, and the password from $ESL_PASSWORD (a random one, kept in DIR/esl_password with mode
0600, when unset): the variables the operator's event_socket.conf.xml reads. It returns
once `api status` over the event socket says "is ready". `stop` sends SIGTERM (only to a server
that is ready: one stopped during start-up can hang) and SIGKILL after --timeout seconds.
Only the Python standard library: the operators' image runs this file as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STATE = "fsctl.json"
SUBDIRS = ("log", "run", "db", "temp", "recordings", "certs")
LISTEN_IP = "127.0.0.1"
ESL_ACL = "127.0.0.1/32"


class FsctlError(Exception):
    """A failure reported in one line (the caller prints it and exits 1)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_message(sock: socket.socket, buf: bytearray) -> tuple[dict[str, str], str]:
    """One ESL message: envelope headers and body (Content-Length bytes)."""
    while b"\n\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("event socket closed")
        buf += chunk
    head, _, _ = bytes(buf).partition(b"\n\n")
    del buf[:len(head) + 2]
    headers = dict(line.split(": ", 1) for line in head.decode().splitlines() if ": " in line)
    length = int(headers.get("Content-Length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("event socket closed")
        buf += chunk
    body = bytes(buf[:length]).decode(errors="replace")
    del buf[:length]
    return headers, body


def esl_api(port: int, password: str, command: str, timeout: float = 5.0) -> str:
    """`api <command>` over a fresh inbound connection; returns the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        buf = bytearray()
        headers, _ = _read_message(sock, buf)
        if headers.get("Content-Type") != "auth/request":
            raise ConnectionError(f"unexpected greeting {headers.get('Content-Type')!r}")
        sock.sendall(f"auth {password}\n\n".encode())
        headers, _ = _read_message(sock, buf)
        if not headers.get("Reply-Text", "").startswith("+OK"):
            raise FsctlError("event socket refused the password")
        sock.sendall(f"api {command}\n\n".encode())
        while True:
            headers, body = _read_message(sock, buf)
            if headers.get("Content-Type") == "api/response":
                return body


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _log_tail(run_dir: Path, lines: int = 5) -> str:
    for name in ("log/console.log", "log/freeswitch.log"):
        path = run_dir / name
        if path.exists() and path.stat().st_size:
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            return " | ".join(line.strip() for line in tail)
    return "(no log output)"


def _state(run_dir: Path) -> dict[str, object]:
    try:
        return dict(json.loads((run_dir / STATE).read_text()))
    except FileNotFoundError:
        raise FsctlError(f"{run_dir} holds no FreeSWITCH started by fsctl.py") from None


def _password(run_dir: Path) -> str:
    return (run_dir / "esl_password").read_text().strip()


def _install_conf(prefix: Path, run_dir: Path) -> None:
    template = prefix / "share" / "esl_recorder" / "conf"
    if not template.is_dir():
        raise FsctlError(f"no configuration template at {template}: run freeswitch/build.sh")
    shutil.rmtree(run_dir / "conf", ignore_errors=True)
    shutil.copytree(template, run_dir / "conf")
    for sub in SUBDIRS:
        (run_dir / sub).mkdir(parents=True, exist_ok=True)


def _launch(prefix: Path, run_dir: Path, port: int, password: str, timeout: float) -> int:
    binary = prefix / "bin" / "freeswitch"
    if not os.access(binary, os.X_OK):
        raise FsctlError(f"no FreeSWITCH binary at {binary}: run freeswitch/build.sh")
    pidfile = run_dir / "run" / "freeswitch.pid"
    pidfile.unlink(missing_ok=True)
    args = [str(binary), "-nc", "-nonat", "-nonatmap", "-np"]
    for flag, sub in (("-conf", "conf"), ("-log", "log"), ("-run", "run"), ("-db", "db"),
                      ("-temp", "temp"), ("-recordings", "recordings"), ("-certs", "certs")):
        args += [flag, str(run_dir / sub)]
    # read by the operator's event_socket.conf.xml: only 127.0.0.1 may connect (the ACL
    # refuses the rest of 127.0.0.0/8, so a test can show that it is applied)
    env = {**os.environ, "ESL_LISTEN_IP": LISTEN_IP, "ESL_PORT": str(port),
           "ESL_PASSWORD": password, "ESL_ACL": ESL_ACL}
    with open(run_dir / "log" / "console.log", "ab") as console:
        subprocess.run(args, env=env, stdin=subprocess.DEVNULL, stdout=console,
                       stderr=subprocess.STDOUT, check=False, timeout=timeout)
    return _wait_ready(run_dir, pidfile, port, password, time.monotonic() + timeout)


def _wait_ready(run_dir: Path, pidfile: Path, port: int, password: str,
                deadline: float) -> int:
    pid, last, taken = 0, "no answer yet", False
    while time.monotonic() < deadline and not (taken and pid):
        if not pid and pidfile.exists() and pidfile.read_text().strip().isdigit():
            pid = int(pidfile.read_text().strip())
        if pid and not _alive(pid):
            raise FsctlError(f"FreeSWITCH exited during start-up: {_log_tail(run_dir)}")
        try:
            status = esl_api(port, password, "status", timeout=2.0)
            if pid and "is ready" in status:
                return pid
            last = status.splitlines()[0] if status else "empty status"
        except FsctlError as exc:  # not our password: another server's event socket
            last, taken = f"{exc}: another server holds port {port}", True
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)  # poll interval of the readiness check, bounded by the deadline
    if pid and _alive(pid):
        os.kill(pid, signal.SIGKILL)  # never leave a half-started server behind
    when = "" if taken else " in time"
    raise FsctlError(f"FreeSWITCH not ready on 127.0.0.1:{port}{when} ({last}): "
                     f"{_log_tail(run_dir)}")


def start(prefix: Path, run_dir: Path, port: int | None, timeout: float) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    prefix = prefix.resolve()
    password = os.environ.get("ESL_PASSWORD") or secrets.token_urlsafe(18)
    pw_file = run_dir / "esl_password"
    pw_file.touch(mode=0o600)
    pw_file.write_text(password + "\n")
    _install_conf(prefix, run_dir)
    port = port or free_port()
    pid = _launch(prefix, run_dir, port, password, timeout)
    (run_dir / STATE).write_text(json.dumps({"prefix": str(prefix), "port": port, "pid": pid}))
    print(f"fsctl: FreeSWITCH ready on 127.0.0.1:{port} (pid {pid}, dir {run_dir})",
          file=sys.stderr)


def _until_ready(port: int, password: str, deadline: float) -> None:
    """SIGTERM only once start-up is over: a server stopped during start-up can hang."""
    while time.monotonic() < deadline:
        try:
            if "is ready" in esl_api(port, password, "status", timeout=2.0):
                return
        except (OSError, FsctlError):
            pass  # not answering: SIGTERM after the deadline, SIGKILL if that is not enough
        time.sleep(0.1)  # poll interval, bounded by the deadline


def stop(run_dir: Path, timeout: float) -> None:
    state = _state(run_dir)
    pid = int(str(state["pid"]))
    if not _alive(pid):
        print(f"fsctl: FreeSWITCH pid {pid} already gone", file=sys.stderr)
        return
    _until_ready(int(str(state["port"])), _password(run_dir), time.monotonic() + timeout)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # poll for the exit, bounded by the deadline
    how = "SIGTERM"
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        how = f"SIGKILL after {timeout:.0f} s"
        while _alive(pid):
            time.sleep(0.05)
    print(f"fsctl: FreeSWITCH pid {pid} stopped ({how})", file=sys.stderr)


def restart(run_dir: Path, timeout: float) -> None:
    state = _state(run_dir)
    stop(run_dir, timeout)
    prefix, port = Path(str(state["prefix"])), int(str(state["port"]))
    _install_conf(prefix, run_dir)  # the template as build.sh last installed it
    pid = _launch(prefix, run_dir, port, _password(run_dir), timeout)
    (run_dir / STATE).write_text(json.dumps({**state, "pid": pid}))
    print(f"fsctl: FreeSWITCH restarted on 127.0.0.1:{port} (pid {pid})", file=sys.stderr)


def exports(run_dir: Path) -> str:
    state = _state(run_dir)
    values = {
        "ESL_RECORDER_FS": f"127.0.0.1:{state['port']}:{_password(run_dir)}",
        "ESL_RECORDER_FS_RECORDINGS": str(run_dir / "recordings"),
        "ESL_RECORDER_FS_DIR": str(run_dir),
        "ESL_RECORDER_FS_CTL": str(Path(__file__).resolve()),
    }
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("start", "stop", "restart", "env"))
    parser.add_argument("--dir", required=True, type=Path, help="the run's own directory")
    parser.add_argument("--prefix", type=Path, help="install prefix of build.sh (start)")
    parser.add_argument("--port", type=int, help="event socket port (default: a free one)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per wait")
    args = parser.parse_args(argv)
    run_dir = args.dir.resolve()
    try:
        if args.action == "start":
            if args.prefix is None:
                raise FsctlError("start needs --prefix (the path build.sh printed)")
            start(args.prefix, run_dir, args.port, args.timeout)
        elif args.action == "stop":
            stop(run_dir, args.timeout)
        elif args.action == "restart":
            restart(run_dir, args.timeout)
        if args.action in ("start", "restart", "env"):
            sys.stdout.write(exports(run_dir))
    except (FsctlError, OSError, subprocess.SubprocessError) as exc:
        print(f"fsctl: {args.action} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
