import pytest

from esl_recorder.domain.options import (
    AudioFormat,
    RecordOptions,
    SilenceDetection,
    Track,
    record_variables,
)
from esl_recorder.errors import InvalidArgument


def variables(**kw: object) -> dict[str, object]:
    return dict(record_variables(RecordOptions(**kw).validated(3600), "RE1"))  # type: ignore[arg-type]


def test_defaults_are_mono_mix_answer_required_and_explicit() -> None:
    v = variables()
    assert v == {"RECORD_STEREO": False, "RECORD_STEREO_SWAP": False, "RECORD_READ_ONLY": False,
                 "RECORD_WRITE_ONLY": False, "RECORD_ANSWER_REQ": True, "RECORD_APPEND": False,
                 "RECORD_TOGGLE_ON_REPEAT": False, "RECORD_MIN_SEC": 0,
                 "esl_recorder_sid": "RE1"}


@pytest.mark.parametrize("track,read_only,write_only", [
    (Track.INBOUND, True, False), (Track.OUTBOUND, False, True), (Track.BOTH, False, False)])
def test_track_maps_to_read_or_write_only(track: Track, read_only: bool, write_only: bool) -> None:
    v = variables(track=track)
    assert (v["RECORD_READ_ONLY"], v["RECORD_WRITE_ONLY"]) == (read_only, write_only)


def test_dual_channel_is_stereo() -> None:
    assert variables(channels=2)["RECORD_STEREO"] is True


def test_dual_channel_with_one_track_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="track"):
        RecordOptions(channels=2, track=Track.INBOUND).validated(3600)


def test_silence_detection_sets_the_three_variables() -> None:
    v = variables(silence=SilenceDetection(initial_timeout_ms=4000, end_silence_timeout_ms=5000,
                                           threshold=300))
    assert (v["RECORD_INITIAL_TIMEOUT_MS"], v["RECORD_FINAL_TIMEOUT_MS"],
            v["RECORD_SILENCE_THRESHOLD"]) == (4000, 5000, 300)


def test_sample_rate_and_min_length() -> None:
    v = variables(sample_rate=16000, min_length_s=3)
    assert (v["record_sample_rate"], v["RECORD_MIN_SEC"]) == (16000, 3)


@pytest.mark.parametrize("bad", [
    {"channels": 3}, {"sample_rate": 11000}, {"terminators": "x"}, {"control_id": "a b"},
    {"min_length_s": -1}, {"silence": SilenceDetection(threshold=-1)},
    {"trim_silence": True, "format": AudioFormat.MP3},
])
def test_invalid_options(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        RecordOptions(**bad).validated(3600)  # type: ignore[arg-type]


def test_length_is_capped_by_the_operator() -> None:
    assert RecordOptions(max_length_s=99999).validated(3600).max_length_s == 3600
    assert RecordOptions().validated(3600).max_length_s == 3600
    assert RecordOptions(max_length_s=10).validated(3600).max_length_s == 10


def test_round_trip_through_dict() -> None:
    o = RecordOptions(channels=2, format=AudioFormat.MP3, terminators="#",
                      silence=SilenceDetection(initial_timeout_ms=1))
    assert RecordOptions.from_dict(o.to_dict()) == o
