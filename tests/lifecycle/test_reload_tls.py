"""The SIGHUP handler (App.reload; the signal itself is shown by test_sigterm's SIGHUP test)
re-reads the TLS files: new connections get the new certificate."""

from __future__ import annotations

import trustme
from edge.conftest import ApiFactory, TlsFiles, make_api, port_of, tls_files  # noqa: F401
from edge.test_tls import peer_certificate


def test_reload_gives_new_connections_the_new_certificate(
        make_api: ApiFactory, tls_files: TlsFiles) -> None:  # noqa: F811
    api = make_api(tls_cert=str(tls_files.cert), tls_key=str(tls_files.key))
    before = peer_certificate(port_of(api), tls_files.ca_file)
    other_ca = trustme.CA()
    tls_files.issue(other_ca)
    api.daemon.app.reload()
    other_ca.cert_pem.write_to_path(str(tls_files.ca_file))
    assert peer_certificate(port_of(api), tls_files.ca_file) != before
