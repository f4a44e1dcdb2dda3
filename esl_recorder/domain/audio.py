"""Facts read from a recording file itself, header repair after a crash, silence trim.

WAV: FreeSWITCH (libsndfile) writes 16-bit PCM with a 44-byte header whose RIFF and
data sizes are only correct once the file is closed; a crash leaves them stale.
MP3: duration, channels and rate read by mutagen (mod_shout writes CBR Layer III).
Files are read in fixed chunks: memory stays flat however long the recording.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import mutagen.mp3
import numpy as np

from .recording import FileFacts

_CHUNK = 1 << 20
_HEADER_BYTES = 4096  # where the fmt and data chunk headers must be


class AudioError(Exception):
    """The file is not audio we can read."""


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def inspect(path: str) -> FileFacts:
    """Duration, channels, rate, size and sha256 of a .wav or .mp3 file."""
    if path.endswith(".wav"):
        return _wav_facts(path)
    if path.endswith(".mp3"):
        duration, channels, rate = _mp3_facts(path)
        return FileFacts(duration, channels, rate, os.path.getsize(path), sha256_of(path))
    raise AudioError(f"unknown audio format: {path}")


def sound_facts(path: str) -> FileFacts | None:
    """`inspect(path)`, or None for a WAV file whose header is stale (repair_wav_header
    it first): a sound file is read once."""
    try:
        return _wav_facts(path, stale_ok=False) if path.endswith(".wav") else inspect(path)
    except _StaleHeader:
        return None


class _StaleHeader(AudioError):
    pass


def _wav_facts(path: str, *, stale_ok: bool = True) -> FileFacts:
    """One pass over the file: its header is read from the digest's first chunk
    (_StaleHeader when that header is stale, unless `stale_ok`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        chunk = fh.read(_CHUNK)
        layout = _wav_layout(chunk[:_HEADER_BYTES], size, path)
        if layout.stale and not stale_ok:
            raise _StaleHeader(path)
        while chunk:
            digest.update(chunk)
            chunk = fh.read(_CHUNK)
    frames = layout.data_size // layout.block_align
    return FileFacts(frames * 1000 // layout.sample_rate, layout.channels, layout.sample_rate,
                     size, digest.hexdigest())


@dataclass(frozen=True)
class WavLayout:
    channels: int
    sample_rate: int
    block_align: int
    data_offset: int
    data_size: int  # as found on disk (bytes after the data header), not the stale header
    header_data_size: int
    header_riff_size: int

    @property
    def stale(self) -> bool:
        return (self.header_data_size != self.data_size
                or self.header_riff_size != self.data_offset - 8 + self.data_size)


def read_wav_layout(path: str) -> WavLayout:
    with open(path, "rb") as fh:
        head = fh.read(_HEADER_BYTES)
        size = os.fstat(fh.fileno()).st_size
    return _wav_layout(head, size, path)


def _wav_layout(head: bytes, size: int, path: str) -> WavLayout:
    """The layout from the file's first bytes `head` and its `size`."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise AudioError(f"not a RIFF/WAVE file: {path}")
    riff_size = struct.unpack_from("<I", head, 4)[0]
    pos, fmt = 12, None
    while pos + 8 <= len(head):
        cid, clen = head[pos:pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if cid == b"fmt ":
            fmt = struct.unpack_from("<HHIIHH", head, pos + 8)
        elif cid == b"data":
            if fmt is None:
                raise AudioError(f"data before fmt in {path}")
            data_offset = pos + 8
            return WavLayout(channels=fmt[1], sample_rate=fmt[2], block_align=fmt[4],
                             data_offset=data_offset, data_size=size - data_offset,
                             header_data_size=clen, header_riff_size=riff_size)
        pos += 8 + clen + (clen & 1)
    raise AudioError(f"no data chunk in {path}")


def repair_wav_header(path: str) -> bool:
    """Rewrite RIFF/data sizes from the real file size. Returns True if it changed."""
    layout = read_wav_layout(path)
    if not layout.stale:
        return False
    usable = layout.data_size - layout.data_size % layout.block_align
    with open(path, "r+b") as fh:
        fh.truncate(layout.data_offset + usable)
        fh.seek(4)
        fh.write(struct.pack("<I", layout.data_offset - 8 + usable))
        fh.seek(layout.data_offset - 4)
        fh.write(struct.pack("<I", usable))
    return True


def trim_wav_silence(path: str, threshold: int = 200, keep_ms: int = 100) -> int:
    """Cut leading and trailing silence (frames whose samples all stay under
    `threshold`), keeping `keep_ms` of margin. Returns the milliseconds removed."""
    layout = read_wav_layout(path)
    frames = layout.data_size // layout.block_align
    first, last = _loud_span(path, layout, threshold)
    margin = layout.sample_rate * keep_ms // 1000
    start, end = (0, 0) if first < 0 else (max(0, first - margin), min(frames, last + 1 + margin))
    if (start, end) == (0, frames):
        return 0
    _rewrite_wav(path, layout, start * layout.block_align, end * layout.block_align)
    return (frames - (end - start)) * 1000 // layout.sample_rate


def _loud_span(path: str, layout: WavLayout, threshold: int) -> tuple[int, int]:
    """Indexes of the first and last frame holding a sample at or above `threshold` in
    magnitude, or (-1, -1). 16-bit PCM only."""
    if layout.block_align != 2 * layout.channels:
        raise AudioError(f"not 16-bit PCM (block align {layout.block_align}): {path}")
    frame_bytes = layout.block_align
    first = last = -1
    with open(path, "rb") as fh:
        fh.seek(layout.data_offset)
        for base, chunk in _frame_chunks(fh, layout.data_size // frame_bytes, frame_bytes):
            samples = np.frombuffer(chunk, dtype="<i2").reshape(-1, layout.channels)
            loud = ((samples >= threshold) | (samples <= -threshold)).any(axis=1)
            hits = np.flatnonzero(loud)
            if hits.size:
                first = base + int(hits[0]) if first < 0 else first
                last = base + int(hits[-1])
    return first, last


def _frame_chunks(fh: BinaryIO, frames: int, frame_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(index of the first frame, bytes) of `frames` whole frames read from `fh`."""
    per_chunk = max(1, _CHUNK // frame_bytes)
    for base in range(0, frames, per_chunk):
        data = fh.read(min(per_chunk, frames - base) * frame_bytes)
        if not data:
            return
        yield base, data[: len(data) - len(data) % frame_bytes]


def _rewrite_wav(path: str, layout: WavLayout, start: int, end: int) -> None:
    """Replace the file with its header and data bytes [start, end), sizes set."""
    tmp = path + ".trim"
    size = end - start
    with open(path, "rb") as src, open(tmp, "wb") as out:
        header = bytearray(src.read(layout.data_offset))
        struct.pack_into("<I", header, 4, layout.data_offset - 8 + size)
        struct.pack_into("<I", header, layout.data_offset - 4, size)
        out.write(header)
        src.seek(layout.data_offset + start)
        while size > 0 and (chunk := src.read(min(_CHUNK, size))):
            out.write(chunk)
            size -= len(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _mp3_facts(path: str) -> tuple[int, int, int]:
    """(duration ms, channels, sample rate) from the MPEG headers (and a Xing/LAME one)."""
    try:
        with open(path, "rb") as fh:
            info = mutagen.mp3.MPEGInfo(fh)
    except mutagen.MutagenError as exc:
        raise AudioError(f"no MPEG audio frames in {path}: {exc}") from None
    return round(info.length * 1000), info.channels, info.sample_rate
