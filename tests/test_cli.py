"""The esl-recorder command line, run as a real subprocess where the exit path matters."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from esl_recorder import __version__, cli
from esl_recorder.delivery.signing import SendTimeSigner
from esl_recorder.logsetup import clear_secrets, configure_logging, register_secret
from esl_recorder.settings import LogSettings, Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """cli.main and configure_logging change the root logger and the secret list."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    clear_secrets()


def esl_recorder(*args: str, env: dict[str, str] | None = None,
                 cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ESL_RECORDER_")}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "esl_recorder", *args], cwd=cwd,
                          env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=60, check=False)


def test_version() -> None:
    out = esl_recorder("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"esl-recorder {__version__}"


def test_check_config_prints_every_setting_with_the_password_masked(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("nodes:\n  - {name: fs1, host: 10.1.2.3, password: hunter22}\n"
                    "http:\n  port: 9099\n")
    out = esl_recorder("check-config", "-c", str(conf),
                       env={"ESL_RECORDER_ESL_COMMAND_TIMEOUT": "3"})
    assert out.returncode == 0, out.stderr
    assert "hunter22" not in out.stdout + out.stderr
    lines = set(out.stdout.splitlines())
    assert {"nodes[0].password = ********", "nodes[0].host = 10.1.2.3", "http.port = 9099",
            "esl.command_timeout = 3.0", "log.level = INFO"} <= lines


def test_check_config_uses_the_env_config_path(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("log:\n  format: json\n")
    out = esl_recorder("check-config", env={"ESL_RECORDER_CONFIG": str(conf)}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "log.format = json" in out.stdout.splitlines()


def test_check_config_default_is_the_local_sample() -> None:
    out = esl_recorder("check-config")
    assert out.returncode == 0, out.stderr
    assert "conf/esl_recorder.yaml" in out.stdout


@pytest.mark.parametrize(("text", "expected"), [
    ("esl:\n  comand_timeout: 1\n", ": esl.comand_timeout: unknown setting"),
    ("nodes:\n  - {name: a, host: h}\n  - {name: b, host: h, port: 0}\n", ": nodes[1].port: "),
    ("esl: [\n", ": line 2: invalid YAML"),
])
def test_bad_config_exits_2_with_one_error_line(tmp_path: Path, text: str, expected: str) -> None:
    conf = tmp_path / "bad.yaml"
    conf.write_text(text)
    out = esl_recorder("check-config", "-c", str(conf))
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {conf}{expected}")
    assert "Traceback" not in out.stderr
    assert out.stdout == ""


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    out = esl_recorder("run", "-c", str(tmp_path / "absent.yaml"))
    assert (out.returncode, "Traceback" in out.stderr) == (2, False)
    assert out.stderr.startswith(f"error: {tmp_path / 'absent.yaml'}: file: cannot read")


def test_bad_env_exits_2() -> None:
    out = esl_recorder("check-config", env={"ESL_RECORDER_HTTP_PORT": "http"})
    assert out.returncode == 2
    assert out.stderr.startswith("error: env: http.port: ESL_RECORDER_HTTP_PORT='http'")


def test_misspelled_env_var_is_pointed_out() -> None:
    out = esl_recorder("check-config", env={"ESL_RECORDER_HTTP_PROT": "1"})
    assert out.returncode == 0
    assert "did you mean ESL_RECORDER_HTTP_PORT?" in out.stderr


def test_credentials_in_the_env_node_list_exit_2_without_repeating_them() -> None:
    out = esl_recorder("check-config",
                       env={"ESL_RECORDER_NODES": "fs1=user:s3cr3t@127.0.0.1:8021"})
    assert out.returncode == 2
    assert out.stderr.startswith("error: env: nodes[0]: ESL_RECORDER_NODES: ")
    assert "s3cr3t" not in out.stdout + out.stderr


def test_a_wrong_typed_token_is_not_echoed(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("accounts:\n  - {id: acme, laml_token: 98765432109876}\n")
    out = esl_recorder("check-config", "-c", str(conf))
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {conf}: accounts[0].laml_token: expected a string")
    assert "98765432109876" not in out.stderr


def test_account_secrets_from_env_are_masked_and_not_called_unknown(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("accounts:\n  - {id: acme}\n")
    out = esl_recorder("check-config", "-c", str(conf),
                       env={"ESL_RECORDER_ACCOUNT_ACME_LAML_TOKEN": "tok-4c1d"})
    assert out.returncode == 0, out.stderr
    assert "accounts[0].laml_token = ********" in out.stdout.splitlines()
    assert "tok-4c1d" not in out.stdout + out.stderr
    assert "warning" not in out.stderr


def test_unknown_command_is_a_usage_error() -> None:
    out = esl_recorder("recrod")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_config_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.config_path("x.yaml", {"ESL_RECORDER_CONFIG": "y.yaml"}) == "x.yaml"
    assert cli.config_path(None, {"ESL_RECORDER_CONFIG": "y.yaml"}) == "y.yaml"
    monkeypatch.chdir(tmp_path)
    assert cli.config_path(None, {}) == "/etc/esl_recorder/esl_recorder.yaml"
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "esl_recorder.yaml").write_text("")
    assert cli.config_path(None, {}) == "conf/esl_recorder.yaml"


def test_run_hands_loaded_settings_to_app_run(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Settings] = []
    fake_app = types.ModuleType("esl_recorder.app")
    fake_app.run = lambda settings: seen.append(settings) or 3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "esl_recorder.app", fake_app)
    monkeypatch.setenv("ESL_RECORDER_HTTP_PORT", "9191")
    conf = tmp_path / "c.yaml"
    conf.write_text("log:\n  level: warning\n")
    assert cli.main(["run", "-c", str(conf)]) == 3
    assert [(s.source, s.http.port, s.log.level) for s in seen] == [(str(conf), 9191, "WARNING")]


def test_fakeswitch_passes_its_arguments_through(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    fake = types.ModuleType("esl_recorder.testing.fakeswitch.__main__")
    fake.main = lambda argv=None: calls.append(argv) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "esl_recorder.testing.fakeswitch.__main__", fake)
    argv = ["--port", "0", "--password", "x", "--recordings-root", "/tmp/r"]
    assert cli.main(["fakeswitch", *argv]) == 0
    assert calls == [argv]


def test_json_logs_carry_extras_and_mask_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    stream = io.StringIO()
    configure_logging(LogSettings(level="DEBUG", format="json"), stream=stream)
    register_secret("s3cr3t-pw")
    logging.getLogger("esl_recorder.test").info("auth with %s", "s3cr3t-pw",
                                                extra={"call_uuid": "u-1", "recording_sid": "RE1"})
    doc = json.loads(stream.getvalue().splitlines()[-1])
    assert doc["message"] == "auth with ********"
    assert (doc["level"], doc["logger"]) == ("INFO", "esl_recorder.test")
    assert (doc["call_uuid"], doc["recording_sid"]) == ("u-1", "RE1")
    assert doc["ts"].endswith("Z")


def test_text_logs_mask_secrets_in_the_message_the_extras_and_the_traceback() -> None:
    import io

    stream = io.StringIO()
    configure_logging(LogSettings(level="INFO"), stream=stream)
    register_secret("s3cr3t-pw")
    log = logging.getLogger("esl_recorder.test")
    try:
        raise ValueError("bad password s3cr3t-pw")
    except ValueError:
        log.exception("auth with %s", "s3cr3t-pw", extra={"node": "fs1 s3cr3t-pw"})
    out = stream.getvalue()
    assert "s3cr3t-pw" not in out
    assert "auth with ********" in out and "node=fs1 ********" in out
    assert "ValueError: bad password ********" in out


def test_text_logs_show_level_logger_and_extras() -> None:
    import io

    stream = io.StringIO()
    configure_logging(LogSettings(level="WARNING"), stream=stream)
    log = logging.getLogger("esl_recorder.test")
    log.info("hidden")
    log.warning("record failed", extra={"call_uuid": "u-2"})
    out = stream.getvalue()
    assert "hidden" not in out
    assert " WARNING esl_recorder.test: record failed call_uuid=u-2" in out


def test_keygen_prints_a_pair_whose_public_key_checks_its_signatures() -> None:
    made = subprocess.run([sys.executable, "-m", "esl_recorder", "keygen"], capture_output=True,
                          text=True, timeout=60, check=True).stdout.splitlines()
    seed = made[0].split()[1]
    public = made[1].split()[1]
    again = subprocess.run([sys.executable, "-m", "esl_recorder", "keygen", "--public"],
                           input=seed + "\n", capture_output=True, text=True, timeout=60)
    assert (again.returncode, again.stdout.strip()) == (0, public)
    headers = SendTimeSigner({"a": seed}).headers("telnyx-ed25519:a", "x=1")
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
        base64.b64decode(headers["telnyx-signature-ed25519"]),
        f"{headers['telnyx-timestamp']}|x=1".encode())
    bad = subprocess.run([sys.executable, "-m", "esl_recorder", "keygen", "--public"],
                         input="not-a-key\n", capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not-a-key" not in bad.stderr
    assert bad.stderr.startswith("error: ") and len(bad.stderr.splitlines()) == 1
