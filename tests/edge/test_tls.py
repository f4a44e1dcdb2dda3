"""HTTPS: the API over TLS from a throwaway CA (trustme), the certificate re-read on
reload_tls(), unreadable files named in one line, and TLS sent to the plain port."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import trustme
from api.conftest import ACME_LAML
from twilio.rest import Client

from esl_recorder.errors import ConfigError
from esl_recorder.http.server import make_server
from esl_recorder.settings import settings_from_mapping

from .conftest import ApiFactory, TlsFiles, body_of, exchange, link_base, port_of, status_of


def tls_settings(files: TlsFiles) -> dict[str, object]:
    return {"tls_cert": str(files.cert), "tls_key": str(files.key)}


def peer_certificate(port: int, ca_file: Path) -> bytes:
    context = ssl.create_default_context(cafile=str(ca_file))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        der = tls.getpeercert(binary_form=True)
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert der is not None
    return der


def test_the_api_serves_https_and_links_say_https(make_api: ApiFactory,
                                                  tls_files: TlsFiles) -> None:
    api = make_api(**tls_settings(tls_files))
    api.http.verify = str(tls_files.ca_file)
    api.http.trust_env = False  # REQUESTS_CA_BUNDLE would win over verify
    assert api.request("GET", "/healthz").json() == {"status": "ok"}
    uuid = api.call()
    assert link_base(api, uuid) == f"https://127.0.0.1:{port_of(api)}"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(api.url + "/healthz", timeout=10)  # not trusted without the CA


def test_the_twilio_sdk_works_over_https(make_api: ApiFactory, tls_files: TlsFiles) -> None:
    api = make_api(**tls_settings(tls_files))
    client = Client(ACME_LAML[0], ACME_LAML[1], account_sid=ACME_LAML[0])
    client.api.base_url = api.url
    client.api.v2010.version = "api/laml/2010-04-01"
    assert client.http_client.session is not None
    client.http_client.session.verify = str(tls_files.ca_file)
    client.http_client.session.trust_env = False  # REQUESTS_CA_BUNDLE would win over verify
    uuid = api.call()
    created = client.calls(uuid).recordings.create(recording_channels="dual")
    assert created.status == "in-progress"
    assert client.recordings(created.sid).fetch().sid == created.sid


def test_tls_1_2_is_the_oldest_accepted(make_api: ApiFactory, tls_files: TlsFiles) -> None:
    """TLS 1.2 is served; older versions are off in the server's context (this machine's
    OpenSSL will not even offer them as a client, so a handshake cannot show it)."""
    api = make_api(**tls_settings(tls_files))
    server = api.daemon.app.http
    assert server is not None and server.tls_context is not None
    assert server.tls_context.minimum_version == ssl.TLSVersion.TLSv1_2
    context = ssl.create_default_context(cafile=str(tls_files.ca_file))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", port_of(api)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() == "TLSv1.2"


def test_reload_tls_gives_new_connections_the_new_certificate(
        make_api: ApiFactory, tls_files: TlsFiles) -> None:
    api = make_api(**tls_settings(tls_files))
    server = api.daemon.app.http
    assert server is not None
    before = peer_certificate(port_of(api), tls_files.ca_file)
    other_ca = trustme.CA()
    tls_files.issue(other_ca)
    assert peer_certificate(port_of(api), tls_files.ca_file) == before  # not yet re-read
    assert server.reload_tls() is True
    other_ca.cert_pem.write_to_path(str(tls_files.ca_file))
    after = peer_certificate(port_of(api), tls_files.ca_file)
    assert after != before


def test_a_reload_with_unreadable_files_keeps_the_certificate_in_use(
        make_api: ApiFactory, tls_files: TlsFiles, caplog: pytest.LogCaptureFixture) -> None:
    api = make_api(**tls_settings(tls_files))
    server = api.daemon.app.http
    assert server is not None
    before = peer_certificate(port_of(api), tls_files.ca_file)
    tls_files.key.write_text("not a key\n")
    with caplog.at_level(logging.INFO):
        assert server.reload_tls() is False
    assert [r.levelno for r in caplog.records if "TLS not reloaded" in r.getMessage()] == [
        logging.ERROR]
    assert peer_certificate(port_of(api), tls_files.ca_file) == before


@pytest.mark.parametrize("broken, setting", [("missing-cert", "http.tls_cert"),
                                             ("missing-key", "http.tls_key"),
                                             ("garbage-key", "http.tls_cert"),
                                             ("unreadable-cert", "http.tls_cert")])
def test_a_certificate_or_key_that_cannot_be_used_is_one_line_naming_the_setting(
        tls_files: TlsFiles, broken: str, setting: str) -> None:
    if broken == "missing-cert":
        tls_files.cert.unlink()
    elif broken == "missing-key":
        tls_files.key.unlink()
    elif broken == "garbage-key":
        tls_files.key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    else:
        tls_files.cert.chmod(0)
        try:
            tls_files.cert.read_bytes()
            pytest.skip("running as root: every file is readable")
        except PermissionError:
            pass
    settings = settings_from_mapping({"http": {"port": 0, **tls_settings(tls_files)}},
                                     source="conf.yaml", env={})
    with pytest.raises(ConfigError) as err:
        make_server(lambda e, s: [], settings.http, settings.source)
    message = str(err.value)
    assert message.startswith(f"conf.yaml: {setting}: ") and "\n" not in message, message


def test_a_tls_client_on_the_plain_port_is_told_in_words_and_logged_once(
        make_api: ApiFactory, caplog: pytest.LogCaptureFixture) -> None:
    api = make_api()
    hello = bytes.fromhex("16030100a5010000a10303") + bytes(range(32)) + b"\x00" * 40
    with caplog.at_level(logging.INFO):
        replies = [exchange(port_of(api), hello) for _ in range(3)]
        with socket.create_connection(("127.0.0.1", port_of(api)), timeout=10) as raw, \
                pytest.raises(ssl.SSLError):
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
    assert status_of(replies[0]) == 400
    assert b"plain HTTP: use http://" in body_of(replies[0])
    words = [r for r in caplog.records
             if "a TLS client connected to the plain-HTTP port" in r.getMessage()]
    assert len(words) == 1 and words[0].levelno == logging.WARNING
    assert "http.tls_cert" in words[0].getMessage()
    assert not [r for r in caplog.records if "Invalid HTTP method" in r.getMessage()
                or r.levelno >= logging.ERROR]
    assert api.request("GET", "/healthz").status_code == 200


def test_plain_http_on_the_tls_port_is_one_info_line(make_api: ApiFactory, tls_files: TlsFiles,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    api = make_api(**tls_settings(tls_files))
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", port_of(api)), timeout=10) as conn:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                with contextlib.suppress(ConnectionResetError):
                    assert conn.recv(65536) == b""  # closed: no bytes in words TLS can't read
    lines = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and lines[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_client_that_never_completes_the_handshake_is_cut_off_at_the_deadline(
        make_api: ApiFactory, tls_files: TlsFiles) -> None:
    api = make_api(request_timeout=0.5, **tls_settings(tls_files))
    with socket.create_connection(("127.0.0.1", port_of(api)), timeout=5) as conn:
        conn.sendall(b"\x16\x03\x01")  # the start of a ClientHello, and no more
        assert conn.recv(65536) == b""  # closed by the server (a timeout here fails)


def test_run_with_a_missing_certificate_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "conf.yaml"
    config.write_text(
        f"nodes: [{{name: fs1, host: 127.0.0.1, port: 1}}]\n"
        f"store: {{path: {tmp_path / 'state.db'}}}\n"
        f"recording: {{root: {tmp_path / 'recordings'}}}\n"
        f"http: {{port: 0, tls_cert: {tmp_path / 'nope.pem'}, tls_key: {tmp_path / 'k.pem'}}}\n")
    done = subprocess.run([sys.executable, "-m", "esl_recorder", "run", "-c", str(config)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ESL_RECORDER_LOG_LEVEL": "ERROR"})
    assert done.returncode == 2, done
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {config}: http.tls_cert: cannot read "
                      f"'{tmp_path / 'nope.pem'}': No such file or directory"], done.stderr
    assert "Traceback" not in done.stderr
