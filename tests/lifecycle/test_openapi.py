"""/openapi.json: a valid OpenAPI 3.1 document of the whole HTTP surface (openapi-spec-validator),
and a short schemathesis run per dialect against the live daemon on the simulator: no 5xx, no
status, content type or body outside the document, for every tag of the document (each
dialect and the operations routes). The long run (README, "Reliability"), fresh random
examples each time:
    ESL_RECORDER_API_FUZZ_EXAMPLES=100 pytest -q -p no:cacheprovider --timeout 0 \
        tests/lifecycle/test_openapi.py"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from api.conftest import ACCOUNTS, ACME_BW, ACME_LAML, ACME_TEXML
from daemon.conftest import Daemon, DaemonFactory
from openapi_spec_validator import validate

SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
#: examples per operation; the suite's short run is seeded (repeatable), a longer one is not
EXAMPLES = int(os.environ.get("ESL_RECORDER_API_FUZZ_EXAMPLES", "5"))
SEED = ["--seed", "1"] if EXAMPLES <= 5 else []
ACME_KAZOO = (ACCOUNTS[0]["kazoo_account_id"], ACCOUNTS[0]["kazoo_auth_token"])
#: every tag of the document, with the credentials its operations take
FUZZED = {
    "laml": ["-a", f"{ACME_LAML[0]}:{ACME_LAML[1]}"],
    "texml": ["-H", f"Authorization: Bearer {ACME_TEXML[1]}"],
    "bandwidth": ["-a", f"{ACME_BW[1]}:{ACME_BW[2]}"],
    "calling": ["-a", f"{ACME_LAML[0]}:{ACME_LAML[1]}"],
    "swml": ["-a", f"{ACME_LAML[0]}:{ACME_LAML[1]}"],
    "kazoo": ["-H", f"X-Auth-Token: {ACME_KAZOO[1]}"],
    "operations": [],
}


@pytest.fixture
def api_daemon(daemon_factory: DaemonFactory) -> Daemon:
    daemon = daemon_factory(accounts=ACCOUNTS)
    assert daemon.app.clients["fs1"].wait_connected(5)
    return daemon


def base(daemon: Daemon) -> str:
    assert daemon.app.http is not None
    return f"http://127.0.0.1:{daemon.app.http.server_port}"


def document(daemon: Daemon) -> dict[str, Any]:
    got = requests.get(f"{base(daemon)}/openapi.json", timeout=5)
    assert got.status_code == 200
    doc: dict[str, Any] = got.json()
    return doc


def test_the_document_is_valid_openapi_3_1_of_every_route(api_daemon: Daemon) -> None:
    doc = document(api_daemon)
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    for ops in ("/metrics", "/healthz", "/readyz", "/openapi.json"):
        assert "get" in paths[ops]
    routed = {rule.rule for rule in api_daemon.app.api.url_map.iter_rules()}
    assert len(routed) + 4 == len(paths)
    tags = {tag for methods in paths.values() for op in methods.values() for tag in op["tags"]}
    assert tags == set(FUZZED), "every tag of the document is fuzzed below"
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {"lamlAuth", "texmlAuth", "bandwidthAuth", "callingAuth",
                            "swmlAuth", "kazooAuth"}
    for path, methods in paths.items():
        for method, op in methods.items():
            errors = set(op["responses"]) - {"200", "201", "204"}
            if path not in ("/metrics", "/healthz", "/readyz", "/openapi.json"):
                assert {"400", "401", "404"} <= errors, (method, path)
                assert "content" in op["responses"]["401"], (method, path)


@pytest.mark.skipif(SCHEMATHESIS is None, reason="schemathesis is not installed (test extra)")
@pytest.mark.parametrize("tag,auth", list(FUZZED.items()))
def test_a_short_fuzz_finds_no_5xx_and_nothing_outside_the_document(
        api_daemon: Daemon, tmp_path: Path, tag: str, auth: list[str]) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.AccountSid" = "{ACME_LAML[0]}"\n'
                      f'"path.account_sid" = "{ACME_TEXML[0]}"\n"path.user_id" = "{ACME_BW[0]}"\n'
                      f'"path.account_id" = "{ACME_KAZOO[0]}"\n')
    assert SCHEMATHESIS is not None
    out = subprocess.run(
        [SCHEMATHESIS, "--config-file", str(config), "run", f"{base(api_daemon)}/openapi.json",
         "--include-tag", tag, *auth, "--checks", CHECKS, "--phases", "coverage,fuzzing",
         "--max-examples", str(EXAMPLES), *SEED, "--no-color"],
        capture_output=True, text=True, timeout=110 * max(1, EXAMPLES // 5), check=False,
        cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
