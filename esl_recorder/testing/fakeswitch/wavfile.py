"""Writers for the recording formats: 16-bit PCM WAV, MP3 (if lameenc exists), native L16.

The WAV header is written at open with zero sizes and fixed at close, like libsndfile does, so a
simulated crash leaves a file whose RIFF/data sizes are stale.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
from array import array
from typing import BinaryIO, Protocol

HEADER_SIZE = 44
WRITE_BUFFER = 65536  # enable_file_write_buffering's default: bytes held before a write


class Disk:
    """The recordings file system's free space: unlimited, or a number of bytes that the
    writers use up. Once it is used up a write stores what fits and fails with ENOSPC, the
    way FreeSWITCH's file system filled in record_disk_full.txt."""

    def __init__(self) -> None:
        self.free: int | None = None

    def limit(self, free_bytes: int) -> None:
        self.free = max(free_bytes, 0)

    def unlimited(self) -> None:
        self.free = None

    def put(self, file: BinaryIO, raw: bytes) -> int:
        """Write what fits of `raw`; returns how many bytes that was."""
        n = len(raw) if self.free is None else min(len(raw), self.free)
        if n:
            file.write(raw[:n])
            file.flush()
        if self.free is not None:
            self.free -= n
        return n


def _put_all(disk: Disk, file: BinaryIO, raw: bytes) -> int:
    n = disk.put(file, raw)
    if n < len(raw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return n


class AudioWriter(Protocol):
    def write(self, samples: array) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    def abandon(self) -> None: ...
    def size(self) -> int: ...


def wav_header(channels: int, rate: int, data_bytes: int) -> bytes:
    block = channels * 2
    return b"".join(
        (
            b"RIFF",
            struct.pack("<I", 36 + data_bytes if data_bytes else 0),
            b"WAVEfmt ",
            struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, 16),
            b"data",
            struct.pack("<I", data_bytes),
        )
    )


class WavWriter:
    """Interleaved 16-bit PCM; `append=True` continues an existing file with the same layout."""

    def __init__(self, path: str, channels: int, rate: int, append: bool = False,
                 disk: Disk | None = None) -> None:
        self.path = path
        self.channels = channels
        self.rate = rate
        self.data_bytes = 0  # on disk
        self._pending = bytearray()  # written by the recorder, not yet on disk
        self._disk = disk or Disk()
        self._file: BinaryIO
        if append and os.path.exists(path) and os.path.getsize(path) >= HEADER_SIZE:
            self._file = open(path, "r+b")  # noqa: SIM115 - kept open while recording
            self.data_bytes = os.path.getsize(path) - HEADER_SIZE
            self._file.seek(0, os.SEEK_END)
        else:
            self._file = open(path, "wb")  # noqa: SIM115
            try:
                _put_all(self._disk, self._file, wav_header(channels, rate, 0))
            except OSError:
                self._file.close()  # a 0-byte file is left, as FreeSWITCH leaves it
                raise
        self._file.flush()

    def write(self, samples: array) -> None:
        """Buffered like FreeSWITCH's file writes: the data reaches the disk 64 KiB at a time
        (record_disk_full.txt: the file stayed at 44 bytes for the first 4 s)."""
        self._pending += samples.tobytes()
        if len(self._pending) >= WRITE_BUFFER:
            self.flush()

    def flush(self) -> None:
        raw, self._pending = bytes(self._pending), bytearray()
        n = self._disk.put(self._file, raw)
        self.data_bytes += n
        if n < len(raw):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def size(self) -> int:
        return HEADER_SIZE + self.data_bytes

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a full disk: what fitted stays
            self.flush()
        self._file.seek(0)
        self._file.write(wav_header(self.channels, self.rate, self.data_bytes))
        self._file.close()

    def abandon(self) -> None:
        """Crash: the data handed over stays on disk, the header keeps its stale sizes."""
        with contextlib.suppress(OSError):
            self.flush()
        with contextlib.suppress(OSError):
            self._file.close()


class RawWriter:
    """Native-mode file: headerless L16 samples."""

    def __init__(self, path: str, append: bool = False) -> None:
        self.path = path
        self._file: BinaryIO = open(path, "ab" if append else "wb")  # noqa: SIM115
        self.data_bytes = 0

    def write(self, samples: array) -> None:
        raw = samples.tobytes()
        self._file.write(raw)
        self._file.flush()
        self.data_bytes += len(raw)

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return self.data_bytes

    def close(self) -> None:
        self._file.close()

    def abandon(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()


def mp3_available() -> bool:
    try:
        import lameenc  # noqa: F401
    except ImportError:
        return False
    return True


# mod_shout's files run longer than lameenc's for the same audio: 34 frames (2.45 s) for 2 s
# in the captures, 48 (3.46 s) for 3 s against the live server, where lameenc alone writes
# 44-45. This much silence at the end makes up the difference.
MP3_TAIL_MS = 250


class Mp3Writer:
    """MP3 through lameenc, 16 kbit/s per 8 kHz channel like mod_shout."""

    def __init__(self, path: str, channels: int, rate: int, append: bool = False) -> None:
        import lameenc

        self.path = path
        self._encoder = lameenc.Encoder()
        self._encoder.set_bit_rate(16 * channels * max(rate // 8000, 1))
        self._encoder.set_in_sample_rate(rate)
        self._encoder.set_channels(channels)
        self._encoder.set_quality(7)
        self._channels, self._rate = channels, rate
        self._file: BinaryIO = open(path, "ab" if append else "wb")  # noqa: SIM115
        self.data_bytes = 0

    def write(self, samples: array) -> None:
        data = bytes(self._encoder.encode(samples.tobytes()))
        self._file.write(data)
        self._file.flush()
        self.data_bytes += len(data)

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return self.data_bytes

    def close(self) -> None:
        pad = bytes(2 * self._channels * self._rate * MP3_TAIL_MS // 1000)
        self._file.write(bytes(self._encoder.encode(pad)))
        self._file.write(bytes(self._encoder.flush()))
        self._file.close()

    def abandon(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
