"""Live-FreeSWITCH tests: skipped unless ESL_RECORDER_FS=host:port[:password] names a server.

The server needs the config in freeswitch/ (the `rectest` dialplan, mod_loopback, mod_shout)
and must share the recordings directory with this machine at the same path. `.ci/run` builds
and starts one (freeswitch/build.sh, freeswitch/fsctl.py) and exports:

- ESL_RECORDER_FS             host:port:password of its event socket
- ESL_RECORDER_FS_RECORDINGS  the recordings directory FreeSWITCH and the tests share
- ESL_RECORDER_FS_DIR / ESL_RECORDER_FS_CTL  its run directory and freeswitch/fsctl.py, for the
                              tests that restart FreeSWITCH mid-recording

With CI set (CI=true), a missing or unreachable server fails these tests instead of skipping
them. The tests that use the `freeswitch` fixture (here and in tests/differential) are counted
in a summary line: `live FreeSWITCH tests (host:port): N passed`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .live import Esl

FS_ENV = "ESL_RECORDER_FS"
SKIP_REASON = (f"{FS_ENV} not set: integration tests need a real FreeSWITCH "
               "(see freeswitch/README.md)")


@dataclass(frozen=True)
class FreeSwitchAddress:
    host: str
    port: int
    password: str = "ClueCon"
    recordings: str = "/tmp/esl_recorder_it"
    run_dir: str = ""  # set when the tests may restart the server (fsctl.py)
    ctl: str = ""


def parse_fs_address(text: str) -> FreeSwitchAddress:
    """`host:port[:password]`; an IPv6 host goes in brackets: `[::1]:8021:secret`."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        rest = rest.removeprefix(":")
    else:
        host, _, rest = text.partition(":")
    port_text, _, password = rest.partition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise pytest.UsageError(f"{FS_ENV}={text!r}: expected host:port[:password]")
    return FreeSwitchAddress(
        host, int(port_text), password or "ClueCon",
        os.environ.get("ESL_RECORDER_FS_RECORDINGS", "/tmp/esl_recorder_it"),
        os.environ.get("ESL_RECORDER_FS_DIR", ""), os.environ.get("ESL_RECORDER_FS_CTL", ""))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip outside CI; in CI a live test that cannot run is a failure."""
    if in_ci():
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


_live: set[str] = set()  # node ids of the tests that use the live server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _live.update(item.nodeid for item in items
                 if "freeswitch" in getattr(item, "fixturenames", ()))
    if os.environ.get(FS_ENV):
        parse_fs_address(os.environ[FS_ENV])  # fail fast on a malformed value
        return
    if in_ci():
        return  # the `freeswitch` fixture fails each live test with the reason
    for item in items:
        if item.nodeid in _live:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


def _reachable(address: FreeSwitchAddress) -> str:
    """'' when the event socket greets us, else why not."""
    try:
        with socket.create_connection((address.host, address.port), timeout=5) as sock:
            sock.settimeout(5)
            greeting = sock.recv(256)
    except OSError as exc:
        return f"FreeSWITCH at {address.host}:{address.port} is not reachable ({exc})"
    if b"auth/request" not in greeting:
        return f"{address.host}:{address.port} did not greet like an event socket"
    return ""


@pytest.fixture(scope="session")
def freeswitch() -> FreeSwitchAddress:
    """The live server from ESL_RECORDER_FS."""
    text = os.environ.get(FS_ENV)
    if not text:
        unavailable(SKIP_REASON)
    address = parse_fs_address(str(text))
    problem = _reachable(address)
    if problem:
        unavailable(problem)
    return address


@pytest.fixture
def esl(freeswitch: FreeSwitchAddress) -> Iterator[Esl]:
    """A connection of the test's own to the live server's event socket."""
    from .live import Esl  # live.py imports this module

    conn = Esl(freeswitch)
    yield conn
    conn.close()


_counts: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid not in _live:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _counts[report.outcome] = _counts.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _counts:
        return
    text = os.environ.get(FS_ENV)
    server = f"{(a := parse_fs_address(text)).host}:{a.port}" if text else "none"
    parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_counts.items()))
    terminalreporter.write_line(f"live FreeSWITCH tests ({server}): {parts}")
