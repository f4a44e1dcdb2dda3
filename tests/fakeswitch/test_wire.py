"""Header value escaping and template rendering: the fast paths give what the slow ones gave."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from esl_recorder.esl.codec import fs_url_encode
from esl_recorder.testing.fakeswitch import templates
from esl_recorder.testing.fakeswitch.wire import _header_value

# `%` next to hex digits, the characters FreeSWITCH escapes, multi-byte UTF-8 and controls
TRICKY = st.text(alphabet=st.sampled_from("%%%0aF9gz :;{}=,/\n\t\x7fü€😀"), max_size=40)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=500, deadline=None, database=None)
@given(st.one_of(TRICKY, ANY_TEXT))
def test_header_value_is_fs_url_encode(value: str) -> None:
    assert _header_value(value) == fs_url_encode(value)


def test_header_value_examples() -> None:
    for value in ("100%", "%41%4", "%%41", "a%2Cb c", "%zz%", "ü%C3%BC", "%"):
        assert _header_value(value) == fs_url_encode(value)


def test_template_values_with_braces_render_literally() -> None:
    layout = templates.Layout.build("X.a", [("A", "{0}@@v@@%7B}@@w@@"), ("B", "{}")])
    rendered = templates.render(layout, {"v": "{1}"}, lambda name: f"<{name}>")
    assert rendered == [("A", "{0}{1}{}<w>"), ("B", "{}")]
