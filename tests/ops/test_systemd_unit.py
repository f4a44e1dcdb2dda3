"""conf/esl_recorder.service: systemd accepts it, and it keeps the hardening it promises."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .ops_files import UNIT


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        reason = "systemd-analyze is not installed (Debian package 'systemd')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must install it (.ci/run does)")
        pytest.skip(reason)
    # verify checks that ExecStart's program exists: point it at this checkout's entry point.
    program = shutil.which("esl-recorder")
    assert program, "esl-recorder is not on PATH (pip install -e .)"
    text = UNIT.read_text()
    assert "ExecStart=/usr/local/bin/esl-recorder " in text
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace("ExecStart=/usr/local/bin/esl-recorder ",
                                 f"ExecStart={program} "))
    out = subprocess.run([tool, "verify", str(copy)], capture_output=True, text=True,
                         timeout=60, check=False)
    # Unknown keys and bad values are only warnings: any output at all is a failure.
    assert (out.returncode, out.stdout + out.stderr) == (0, "")


def test_the_unit_runs_the_daemon_unprivileged_and_hardened() -> None:
    service = unit()["Service"]
    assert service["Type"] == "simple"
    assert service["ExecStart"].endswith(" run -c /etc/esl_recorder/esl_recorder.yaml")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["User"] == "esl_recorder"
    assert service["KillSignal"] == "SIGTERM"
    assert service["Restart"] == "on-failure"
    assert int(service["TimeoutStopSec"]) >= 10
    assert service["CapabilityBoundingSet"] == ""
    assert service["RestrictAddressFamilies"] == "AF_INET AF_INET6 AF_UNIX"
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                   "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
                   "ProtectControlGroups"):
        assert service[option] == "yes", option
    assert service["ProtectSystem"] == "strict"
    assert "/var/lib/esl_recorder" in service["ReadWritePaths"].split()
    assert "@system-service" in UNIT.read_text()
