import pytest

from esl_recorder.errors import InvalidArgument
from esl_recorder.esl import commands as cmd

UUID = "09d4d763-31c6-4abf-87a5-697622b244e4"
PATH = "/var/lib/rec/acct1/2026/11/20/RE0123.wav"


def test_start_puts_every_variable_in_the_recording_block() -> None:
    line = cmd.uuid_record_start(UUID, PATH, 30, {"RECORD_STEREO": True, "RECORD_MIN_SEC": 2})
    assert line == f"uuid_record {UUID} start {PATH} 30 {{RECORD_STEREO=true,RECORD_MIN_SEC=2}}"


def test_start_without_variables_keeps_the_limit() -> None:
    assert cmd.uuid_record_start(UUID, PATH, 0, {}) == f"uuid_record {UUID} start {PATH} 0"


@pytest.mark.parametrize("path", [
    "relative.wav", "/tmp/with space.wav", "/tmp/../etc/passwd.wav", "/tmp/x.ogg",
    "/tmp/x.wav {RECORD_STEREO=true}", "/tmp/x'.wav", "/tmp/a\\b.wav", "/tmp/x.wav\nexit",
    "/tmp/./x.wav", "", "/tmp/.wav",
])
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidArgument):
        cmd.uuid_record_start(UUID, path, 0, {})


@pytest.mark.parametrize("uuid", ["", "a b", "x;y", "../x", "u\nexit", "{x}", "a" * 200])
def test_unsafe_uuids_are_refused(uuid: str) -> None:
    with pytest.raises(InvalidArgument):
        cmd.uuid_record(uuid, "stop", PATH)


@pytest.mark.parametrize("name,value", [
    ("RECORD_STEREO", "true,RECORD_APPEND=true"), ("X", "a}b"), ("X", "a b"), ("X", "a'b"),
    ("bad name", "1"), ("X", "%2C"), ("X", "^^;"),
])
def test_variables_cannot_smuggle_other_variables(name: str, value: str) -> None:
    with pytest.raises(InvalidArgument):
        cmd.uuid_record_start(UUID, PATH, 0, {name: value})


@pytest.mark.parametrize("action", ["stop", "pause", "resume", "mask", "unmask"])
def test_actions(action: str) -> None:
    assert cmd.uuid_record(UUID, action, PATH) == f"uuid_record {UUID} {action} {PATH}"


def test_start_is_not_an_action_without_variables() -> None:
    with pytest.raises(InvalidArgument):
        cmd.uuid_record(UUID, "start", PATH)


def test_limit_range() -> None:
    with pytest.raises(InvalidArgument):
        cmd.uuid_record_start(UUID, PATH, -1, {})


def test_beep_is_a_tone_broadcast() -> None:
    assert cmd.uuid_broadcast_tone(UUID, "tone_stream://%(250,0,1000)") == (
        f"uuid_broadcast {UUID} tone_stream://%(250,0,1000) both")
    with pytest.raises(InvalidArgument):
        cmd.uuid_broadcast_tone(UUID, "/etc/passwd")


def test_buglist_lookup_matches_the_exact_target() -> None:
    buglist = ("<media-bugs>\n <media-bug>\n  <function>session_record</function>\n"
               f"  <target>{PATH}</target>\n </media-bug>\n</media-bugs>\n")
    assert cmd.is_recording_path_in_buglist(buglist, PATH)
    assert not cmd.is_recording_path_in_buglist(buglist, PATH[:-4] + "1.wav")
