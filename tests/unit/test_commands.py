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
    assert cmd.uuid_broadcast(UUID, "tone_stream://%(250,0,1000)") == (
        f"uuid_broadcast {UUID} tone_stream://%(250,0,1000) both")
    assert cmd.uuid_broadcast(UUID, "/usr/share/sounds/hold.wav", "aleg") == (
        f"uuid_broadcast {UUID} /usr/share/sounds/hold.wav aleg")
    for media in ("/etc/passwd", "/a/../etc/x.wav", "hold.wav", "/x.wav both"):
        with pytest.raises(InvalidArgument):
            cmd.uuid_broadcast(UUID, media)


def test_kill_and_transfer_take_only_safe_words() -> None:
    assert cmd.uuid_kill(UUID, "USER_BUSY") == f"uuid_kill {UUID} USER_BUSY"
    assert cmd.uuid_transfer(UUID, "1000", "XML", "default") == (
        f"uuid_transfer {UUID} 1000 XML default")
    for bad in (lambda: cmd.uuid_kill(UUID, "busy now"), lambda: cmd.uuid_kill(UUID, ""),
                lambda: cmd.uuid_transfer(UUID, "-both"),
                lambda: cmd.uuid_transfer(UUID, "1000 XML"),
                lambda: cmd.uuid_transfer(UUID, "1000", "XML", "de fault")):
        with pytest.raises(InvalidArgument):
            bad()


def test_event_subscription_names_only_event_names() -> None:
    assert cmd.event_subscription(["CHANNEL_ANSWER", "DTMF"]) == (
        "event plain CHANNEL_ANSWER DTMF")
    with pytest.raises(InvalidArgument):
        cmd.event_subscription(["CHANNEL_ANSWER\nexit"])
