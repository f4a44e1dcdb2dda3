"""The request header reader gives pywsgi exactly what its email-parser path gives, for
plain header blocks (its own fast path) and odd ones (handed to the email parser)."""

from io import BytesIO

from gevent.pywsgi import headers_factory
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_recorder.http.headers import _plain_headers, read_headers

NAMES = st.sampled_from(["Host", "Content-Type", "content-length", "X-A_b", "From",
                         "Authorization"])
VALUES = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=12)
LINE_ENDS = st.sampled_from(["\r\n", "\n", "\r", "\r\r\n", ""])
ODD_LINES = st.sampled_from(["From x\r\n", " folded\r\n", "\tfolded\r\n", ": no name\r\n",
                             "no colon\r\n", "Sp ace: v\r\n", "\x00: v\r\n", "\r\n"])


def same(raw: bytes) -> None:
    fast, slow = read_headers(BytesIO(raw)), headers_factory(BytesIO(raw))
    assert fast._headers == slow._headers
    assert fast.status == slow.status
    assert list(fast.headers) == list(slow.headers)
    for name in ("host", "content-type", "Content-Length", "from", "missing"):
        assert fast.get(name) == slow.get(name)
        assert fast.get_all(name) == slow.get_all(name)
    assert fast.typeheader == slow.typeheader


@settings(max_examples=400)
@given(st.lists(st.one_of(
    st.tuples(NAMES, st.sampled_from([":", ": ", ":\t ", ":  "]), VALUES, LINE_ENDS)
    .map(lambda t: "".join(t)), ODD_LINES), max_size=8), st.sampled_from(["\r\n", "\n", ""]))
def test_same_message_as_the_email_parser(lines: list[str], end: str) -> None:
    same(("".join(lines) + end).encode("latin-1") + b"body")


def test_plain_block_and_limits() -> None:
    same(b"Host: a\r\nContent-Type: text/plain; charset=utf-8  \r\nX:\r\nContent-Length: 3\r\n\r\n")
    same(b"Host: a\nX-Y:  z\t\n\n")
    assert _plain_headers([b"Host: a\r\n", b"X-Y:  z \n", b"\r\n"]) == [
        ("Host", "a"), ("X-Y", "z ")]
    assert _plain_headers([b" folded\r\n", b"\r\n"]) is None
    same(b"Host: " + b"a" * 70000 + b"\r\n\r\n")  # line too long
    assert read_headers(BytesIO(b"Host: " + b"a" * 70000 + b"\r\n\r\n")).status == "Line too long"
