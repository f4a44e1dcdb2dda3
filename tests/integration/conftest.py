"""Live-FreeSWITCH tests: skipped unless ESL_RECORDER_FS=host:port[:password] names a server.

The server needs the config in freeswitch/ (the `rectest` dialplan, mod_loopback, mod_shout)
and must share the recordings directory with this machine at the same path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

FS_ENV = "ESL_RECORDER_FS"
SKIP_REASON = (f"{FS_ENV} not set: integration tests need a real FreeSWITCH "
               "(see freeswitch/README.md)")


@dataclass(frozen=True)
class FreeSwitchAddress:
    host: str
    port: int
    password: str = "ClueCon"


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
    return FreeSwitchAddress(host, int(port_text), password or "ClueCon")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(FS_ENV):
        parse_fs_address(os.environ[FS_ENV])  # fail fast on a malformed value
        return
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here + os.sep):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="session")
def freeswitch() -> FreeSwitchAddress:
    """The live server from ESL_RECORDER_FS (every test here is skipped without it)."""
    text = os.environ.get(FS_ENV)
    if not text:
        pytest.skip(SKIP_REASON)
    return parse_fs_address(text)
