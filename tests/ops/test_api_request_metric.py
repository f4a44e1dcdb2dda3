"""esl_recorder_http_requests_total counts API requests by dialect, operation and status
class (issue 14: "API requests by dialect and status class"), through the daemon's real port:
the dashboard groups by `status_class` and never sees an exact code."""

from __future__ import annotations

import re

from api.compat_helpers import LAML, LAML_AUTH
from api.conftest import Api, api  # noqa: F401 (fixture)
from daemon.conftest import daemon_factory, switch  # noqa: F401 (fixtures)

SERIES = re.compile(r'^esl_recorder_http_requests_total\{([^}]*)\} (\S+)$', re.M)


def counted(api: Api) -> dict[tuple[str, str, str], float]:  # noqa: F811
    """(dialect, operation, status_class) -> count, from /metrics."""
    out = {}
    for labels, value in SERIES.findall(api.request("GET", "/metrics").text):
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        assert set(found) == {"dialect", "operation", "status_class"}, labels
        out[(found["dialect"], found["operation"], found["status_class"])] = float(value)
    return out


def test_requests_are_counted_by_status_class(api: Api) -> None:  # noqa: F811
    uuid = api.call()
    assert api.request("GET", f"{LAML}/Calls/{uuid}/Recordings.json",
                       headers=LAML_AUTH).status_code == 200
    assert api.request("GET", f"{LAML}/Calls/{uuid}/Recordings.json").status_code == 401
    missing = api.request("GET", f"{LAML}/Recordings/RE{'0' * 32}.json", headers=LAML_AUTH)
    assert missing.status_code == 404
    seen = counted(api)
    classes = {c for (_, _, c) in seen}
    assert classes <= {"1xx", "2xx", "3xx", "4xx", "5xx"}, classes
    by_class: dict[tuple[str, str], float] = {}
    for (dialect, _, status_class), value in seen.items():
        by_class[(dialect, status_class)] = by_class.get((dialect, status_class), 0) + value
    assert by_class[("laml", "2xx")] >= 1
    assert by_class[("laml", "4xx")] >= 2  # the 401 and the 404, one series
