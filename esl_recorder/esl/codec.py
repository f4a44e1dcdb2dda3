"""FreeSWITCH's own URL encoding of header values (switch_url_encode / switch_url_decode).

FreeSWITCH encodes control characters, bytes above `~` and the characters
`` \\r\\n #%&+:;<=>?@[\\]^`{|}" `` as upper-case `%XX`; everything else stays literal
(`/ , ( ) ! * ' $ ~ -` included). A `%` already followed by two hex digits is left
alone, so decoding does not always give the original back: that is FreeSWITCH's
behaviour and we reproduce it.
"""

from __future__ import annotations

from urllib.parse import unquote

_UNSAFE = frozenset(b"\r\n #%&+:;<=>?@[\\]^`{|}\"")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _needs_escape(byte: int) -> bool:
    return byte < 0x20 or byte > 0x7E or byte in _UNSAFE


def fs_url_encode(value: str) -> str:
    """Encode `value` the way FreeSWITCH serialises an event header value."""
    raw = value.encode("utf-8")
    if not any(_needs_escape(b) for b in raw):
        return value
    out: list[str] = []
    n = len(raw)
    for i, byte in enumerate(raw):
        if byte == 0x25 and i + 2 < n and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            out.append("%")
        elif _needs_escape(byte):
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def fs_url_decode(value: str) -> str:
    """Decode one header value (never a whole frame: see esl.frames)."""
    if "%" not in value:
        return value
    return unquote(value, errors="replace")
