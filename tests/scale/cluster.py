"""Daemon processes (`python -m esl_recorder run`) over one PostgreSQL and simulated
FreeSWITCH nodes, for the tests of tests/scale (the `daemon_cluster` fixture of conftest.py
builds them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from api.conftest import ACCOUNTS
from integration.live import eventually, free_port

from esl_recorder.testing.fakeswitch import FakeSwitch


@dataclass
class Daemon:
    name: str
    config: Path
    log: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Daemon:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "esl_recorder", "run", "-c", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        eventually(lambda: self.readyz() is not None, 20, f"{self.name} to answer ({self.log})")
        return self

    def readyz(self) -> dict[str, Any] | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}: "
                                 f"{self.log.read_text()[-3000:]}")
        try:
            doc: dict[str, Any] = self.http.get(self.url + "/readyz", timeout=2).json()
        except requests.RequestException:
            return None
        return doc

    def owned(self) -> set[str]:
        """The nodes it owns and is connected to."""
        doc = self.readyz() or {"nodes": {}}
        return {n for n, v in doc["nodes"].items() if v.get("owned") and v["connected"]}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.url + path, timeout=15, **kwargs)

    def metric(self, name: str, **labels: str) -> float:
        """A sample of /metrics (0 when absent)."""
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        text = self.http.get(self.url + "/metrics", timeout=5).text
        for line in text.splitlines():
            head, _, value = line.rpartition(" ")
            if head.startswith(name + "{") or head == name:
                got = head[len(name):].strip("{}")
                if ",".join(sorted(got.split(","))) == want:
                    return float(value)
        return 0.0

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signum)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # one stopped by a test ends too
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.http.close()


@dataclass
class Cluster:
    switches: dict[str, FakeSwitch]
    daemons: list[Daemon]
    url: str  # the store

    def owner(self, node: str) -> Daemon | None:
        owners = [d for d in self.daemons if d.alive and node in d.owned()]
        assert len(owners) <= 1, f"{node} owned by {[d.name for d in owners]}"
        return owners[0] if owners else None

    def stop(self) -> None:
        for d in self.daemons:
            d.stop()
        for sim in self.switches.values():
            sim.stop()


def daemon_config(switches: dict[str, FakeSwitch], url: str, port: int, root: Path,
                  **sections: dict[str, Any]) -> dict[str, Any]:
    """One daemon's configuration: every node, the shared recordings directory, several
    daemons on `url`, quick retries; `sections` replace or extend sections."""
    conf: dict[str, Any] = {
        "nodes": [{"name": n, "host": s.address[0], "port": s.address[1],
                   "password": "ClueCon"} for n, s in switches.items()],
        "recording": {"root": str(root)},  # one shared volume
        "store": {"url": url, "several_daemons": True, "takeover_time": 3.0},
        "http": {"host": "127.0.0.1", "port": port},
        "esl": {"connect_timeout": 2, "command_timeout": 3,
                "reconnect_initial_delay": 0.05, "reconnect_max_delay": 0.3},
        "delivery": {"initial_delay": 0.05, "max_delay": 0.2, "lease": 2.0,
                     "allowed_networks": ["127.0.0.0/8"]},
        "accounts": ACCOUNTS,
    }
    for name, values in sections.items():
        conf[name] = {**conf.get(name, {}), **values}
    return conf


ClusterFactory = Callable[..., Cluster]


def make_cluster(url: str, tmp_path: Path, daemons: int = 3,
                 nodes: tuple[str, ...] = ("fs1", "fs2"),
                 **sections: dict[str, Any]) -> Cluster:
    """Started simulators, and daemons configured but not started (`Daemon.start`)."""
    switches = {name: FakeSwitch().start() for name in nodes}
    made = []
    for i in range(daemons):
        port = free_port()
        config = tmp_path / f"d{i}.yaml"
        config.write_text(yaml.safe_dump(daemon_config(
            switches, url, port, tmp_path / "recordings", **sections)))
        made.append(Daemon(f"d{i}", config, tmp_path / f"d{i}.log", port))
    return Cluster(switches, made, url)
