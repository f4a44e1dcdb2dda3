"""recordings_finished_total counts every recording that reaches a final state, not only
those whose file was examined: a recording stopped or hung up before FreeSWITCH started it
is an absent one too (the EslRecorderRecordingsFailing alert divides by this counter)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from esl_recorder.domain.recording import State

from .compat_helpers import LAML, LAML_AUTH, finish, wait_done
from .conftest import Api


def finished(api: Api) -> list[tuple[str, str, float]]:
    """(state, cause, count) of every recordings_finished_total sample above zero."""
    text = api.request("GET", "/metrics").text
    return sorted((s.labels["state"], s.labels["cause"], s.value)
                  for family in text_string_to_metric_families(text)
                  for s in family.samples
                  if s.name == "esl_recorder_recordings_finished_total" and s.value)


def counted(api: Api, recordings: int) -> list[tuple[str, str, float]]:
    """finished() once it counts `recordings` (the count follows the store's commit)."""
    def enough() -> list[tuple[str, str, float]] | None:
        rows = finished(api)
        return rows if sum(count for *_, count in rows) >= recordings else None

    result: list[tuple[str, str, float]] = api.daemon.wait_until(
        enough, 5, f"{recordings} recordings counted")
    return result


def create(api: Api, uuid: str) -> str:
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH)
    assert r.status_code == 200, r.text
    sid: str = r.json()["sid"]
    return sid


def test_recordings_that_never_started_are_counted_absent(api: Api) -> None:
    stopped, hung_up = api.call(answered=False), api.call(answered=False)
    sid = create(api, stopped)
    r = api.request("POST", f"{LAML}/Calls/{stopped}/Recordings/{sid}.json",
                    headers=LAML_AUTH, data={"Status": "stopped"})
    assert r.json()["status"] == "absent"
    other = create(api, hung_up)
    api.switch.hangup(hung_up)
    api.daemon.wait_state(other, State.ABSENT)
    assert counted(api, 2) == [("absent", "hangup", 1.0), ("absent", "requested", 1.0)]


def test_a_finished_recording_is_counted_once_by_its_completion_cause(api: Api) -> None:
    uuid = api.call()
    sid = create(api, uuid)
    finish(api, uuid, 2.0)
    wait_done(api, sid)
    [(state, cause, count)] = counted(api, 1)
    assert (state, count) == ("completed", 1.0) and cause not in ("unknown", "hangup")
