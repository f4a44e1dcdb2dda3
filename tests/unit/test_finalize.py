"""Final state of a closed file: a file shorter than FreeSWITCH recorded is a failure."""

from pathlib import Path

import pytest
from unit.test_audio import write_wav

from esl_recorder.domain.finalize import examine
from esl_recorder.domain.recording import State


@pytest.mark.parametrize(("expected_ms", "state", "truncated"), [
    (None, State.COMPLETED, False),  # FreeSWITCH said nothing (finished from disk)
    (3000, State.COMPLETED, False),  # within the 2 s tolerance
    (35000, State.FAILED, True),  # 2 s of a 35 s recording
])
def test_a_file_shorter_than_recorded_fails(tmp_path: Path, expected_ms: int | None,
                                            state: State, truncated: bool) -> None:
    path = tmp_path / "r.wav"
    write_wav(path, 2.0)
    outcome = examine(str(path), "success-maxtime", False, expected_ms, 2000)
    assert (outcome.state, outcome.truncated) == (state, truncated)
    assert outcome.facts is not None and outcome.facts.duration_ms == 2000
    assert (outcome.error is not None) == truncated
    if truncated:
        assert outcome.error == ("truncated: the file holds 2.0 s of the 35.0 s FreeSWITCH "
                                 "recorded")


def test_a_write_failure_keeps_what_was_saved(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    write_wav(path, 4.0)
    outcome = examine(str(path), "uri-failure", True, 8540, 2000)
    assert outcome.state is State.FAILED and outcome.error and "uri-failure" in outcome.error
    assert outcome.facts is not None and outcome.facts.duration_ms == 4000
