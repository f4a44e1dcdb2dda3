"""Vendor SDKs driven unchanged, each in a virtualenv of its own (their pins conflict:
signalwire 2.x needs twilio 6.54, the test extra has twilio 9), over a real port against
the simulator.

`sdk_python(name)` makes (once; reused while its pins are unchanged) a virtualenv under
`~/.cache/esl_recorder/sdk-venvs/<name>-<hash of the pins>` (outside the clone;
ESL_RECORDER_SDK_CACHE moves it) with pip from the package index. `SdkDriver` runs a
driver script of `tests/sdk/drivers/` in it: one JSON command per line in, one JSON result
per line out, so a test interleaves SDK steps with simulator steps. The base URL and an
optional CA bundle are the driver's arguments: HTTPS plugs in without changing a driver.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import venv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from api.conftest import ACCOUNTS, Api
from daemon.conftest import DaemonFactory, daemon_factory, switch  # noqa: F401 (fixtures)

from esl_recorder.testing.fakeswitch import FakeSwitch

DRIVERS = Path(__file__).parent / "drivers"
PINS = {
    "bandwidth": ["bandwidth-sdk>=3,<4"],
    "signalwire": ["signalwire>=2,<3"],
    "signalwire3": ["signalwire-sdk>=3.7,<4"],
    "telnyx": ["telnyx>=4,<5"],
}


def cache_root() -> Path:
    default = Path.home() / ".cache" / "esl_recorder" / "sdk-venvs"
    root = Path(os.environ.get("ESL_RECORDER_SDK_CACHE", default))
    root.mkdir(parents=True, exist_ok=True)
    return root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first run makes the virtualenvs (pip from the index): more than the suite's
    per-test timeout allows."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(900))


def make_venv(name: str) -> Path:
    """The SDK's virtualenv, made in a scratch directory and renamed into place, so a run
    killed half-way or a second run at the same time never uses a half-made one."""
    pins = PINS[name]
    digest = hashlib.sha256("\n".join(pins).encode()).hexdigest()[:12]
    home = cache_root() / f"{name}-{digest}"
    if not (home / ".ready").exists():
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_root()))
        venv.EnvBuilder(with_pip=True, clear=True).create(scratch)
        subprocess.run([str(scratch / "bin" / "python"), "-m", "pip", "install", "-q",
                        *pins], check=True, stdout=subprocess.DEVNULL, timeout=600)
        (scratch / ".ready").write_text("\n".join(pins) + "\n")
        try:
            scratch.rename(home)
        except OSError:  # another run made it first, or a half-made one is in the way
            if not (home / ".ready").exists():
                shutil.rmtree(home, ignore_errors=True)
                scratch.rename(home)
            else:
                shutil.rmtree(scratch, ignore_errors=True)
    return home / "bin" / "python"


@pytest.fixture(scope="session")
def sdk_python() -> Callable[[str], Path]:
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = make_venv(name)
        return made[name]

    return get


class SdkDriver:
    """A driver process: `step({"op": ...})` returns its `ok` value or raises SdkError."""

    def __init__(self, python: Path, script: str, args: list[str]) -> None:
        self._proc = subprocess.Popen([str(python), str(DRIVERS / script), *args],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, bufsize=1)

    def step(self, command: dict[str, Any]) -> Any:
        result = self.call(command)
        if "error" in result:
            raise SdkError(result["error"])
        return result["ok"]

    def call(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(command) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        assert line, f"the driver exited ({self._proc.poll()})"
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class SdkError(AssertionError):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"SDK error: {error}")
        self.status = error.get("status")
        self.message = error.get("message")


@pytest.fixture(params=["http", "https"])
def tls(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Every SDK test runs twice: over plain HTTP, and over HTTPS with a throwaway CA
    (trustme) whose certificate the daemon serves (http.tls_cert / http.tls_key)."""
    if request.param == "http":
        return {}
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = {"tls_cert": tmp_path / "cert.pem", "tls_key": tmp_path / "key.pem",
             "ca": tmp_path / "ca.pem"}
    leaf.cert_chain_pems[0].write_to_path(str(files["tls_cert"]))
    leaf.private_key_pem.write_to_path(str(files["tls_key"]))
    ca.cert_pem.write_to_path(str(files["ca"]))
    return {k: str(v) for k, v in files.items()}


@pytest.fixture
def api(daemon_factory: DaemonFactory, switch: FakeSwitch,  # noqa: F811
        tls: dict[str, str]) -> Iterator[Api]:
    """tests/api's daemon with the test accounts, over http or https (`tls`)."""
    http = {k: v for k, v in tls.items() if k != "ca"}
    daemon = daemon_factory(accounts=ACCOUNTS, http=http,
                            delivery={"initial_delay": 0.05, "max_delay": 0.2})
    assert daemon.app.clients["fs1"].wait_connected(5)
    assert daemon.app.http is not None
    scheme = "https" if tls else "http"
    with requests.Session() as session:
        if tls:
            session.verify = tls["ca"]
            session.trust_env = False  # REQUESTS_CA_BUNDLE would win over verify
        yield Api(daemon, switch, f"{scheme}://127.0.0.1:{daemon.app.http.server_port}",
                  session)


@pytest.fixture
def ca_bundle(tls: dict[str, str]) -> str:
    """The CA bundle the SDKs trust: none over plain HTTP."""
    return tls.get("ca", "")


@pytest.fixture
def start_driver(sdk_python: Callable[[str], Path]) -> Iterator[Callable[..., SdkDriver]]:
    started: list[SdkDriver] = []

    def start(name: str, script: str, *args: str) -> SdkDriver:
        driver = SdkDriver(sdk_python(name), script, list(args))
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.close()
