"""Fetching what a script names: its document (a file or an http(s) URL) and the media its
`play` names by URL.

URLs go through `requests` over connections that reach only what delivery.allowed_networks
allows (the same TargetPolicy as callbacks, checked on every address right before
connecting: no SSRF), never follow redirects, stop at one total deadline
(scripts.fetch_timeout) and at a size limit. Fetched media is kept under
`<recording.root>/_media/` (FreeSWITCH reads it there), named by the URL's hash.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import gevent
import requests
from requests.adapters import HTTPAdapter

from ..delivery.sender import guarded_pools
from ..delivery.targets import TargetPolicy, TargetRefused
from ..domain.scripts import ScriptError

MEDIA_TYPES = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav",
               "audio/mpeg": "mp3", "audio/mp3": "mp3"}
CHUNK = 64 * 1024


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, targets: TargetPolicy) -> None:
        self._targets = targets
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        self.poolmanager.pool_classes_by_scheme = guarded_pools(self._targets)


class Fetcher:
    def __init__(self, targets: TargetPolicy, timeout: float, max_document_bytes: int,
                 max_media_bytes: int, media_dir: str) -> None:
        self.targets = targets  # where fetches (and the scripts' status URLs) may go
        self._timeout = timeout
        self._max_document = max_document_bytes
        self._max_media = max_media_bytes
        self._media_dir = media_dir
        self._http = requests.Session()
        self._http.trust_env = False  # no proxy from the environment: the policy is ours
        for scheme in ("http://", "https://"):
            self._http.mount(scheme, _GuardedAdapter(targets))

    def document(self, location: str) -> str:
        """The text of a script document (a file path or an http(s) URL)."""
        if not location.startswith(("http://", "https://")):
            return _read_file(location, self._max_document)
        data = b"".join(self._get(location, self._max_document, "document"))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ScriptError("the document is not UTF-8 text") from None

    def media(self, url: str) -> str:
        """A local copy of the audio at `url` (.wav or .mp3): its path."""
        ext = os.path.splitext(urlsplit(url).path)[1].lower().lstrip(".")
        name = hashlib.sha256(url.encode()).hexdigest()
        for known in ("wav", "mp3"):
            path = os.path.join(self._media_dir, f"{name}.{known}")
            if os.path.isfile(path):
                return path
        chunks = self._get(url, self._max_media, "media", want_type=True)
        content_type = next(chunks).decode()  # the first item: the media type
        ext = MEDIA_TYPES.get(content_type, ext if ext in ("wav", "mp3") else "")
        if not ext:
            raise ScriptError(f"play: {_shown(url)} is not wav or mp3 audio "
                              f"({content_type or 'no Content-Type'})")
        os.makedirs(self._media_dir, exist_ok=True)
        path = os.path.join(self._media_dir, f"{name}.{ext}")
        partial = f"{path}.part"
        with open(partial, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
        return path

    def _get(self, url: str, limit: int, what: str, want_type: bool = False) -> Iterator[bytes]:
        """The body in chunks (first the media type when `want_type`), within the deadline
        and the size limit."""
        shown = _shown(url)
        try:
            with gevent.Timeout(self._timeout):
                resp = self._http.get(url, timeout=self._timeout, stream=True,
                                      allow_redirects=False)
                with resp:
                    if resp.status_code != 200:
                        raise ScriptError(f"{what} {shown}: HTTP {resp.status_code}")
                    body = _limited(resp, limit, what, shown)
        except gevent.Timeout:
            raise ScriptError(f"{what} {shown}: no answer within {self._timeout:g} s") from None
        except TargetRefused as exc:
            raise ScriptError(f"{what} {shown}: {exc}") from None
        except requests.RequestException as exc:
            cause = exc.__cause__ or exc.__context__ or exc
            if isinstance(cause, TargetRefused) or "TargetRefused" in repr(exc):
                raise ScriptError(f"{what} {shown}: target refused "
                                  "(delivery.allowed_networks)") from None
            raise ScriptError(f"{what} {shown}: {type(exc).__name__}") from None
        if want_type:
            yield resp.headers.get("Content-Type", "").split(";")[0].strip().lower().encode()
        yield from body


def _limited(resp: requests.Response, limit: int, what: str, shown: str) -> list[bytes]:
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ScriptError(f"{what} {shown}: larger than {limit} bytes")
    chunks, size = [], 0
    for chunk in resp.iter_content(CHUNK):
        size += len(chunk)
        if size > limit:
            raise ScriptError(f"{what} {shown}: larger than {limit} bytes")
        chunks.append(chunk)
    return chunks


def _read_file(path: str, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise ScriptError(f"document {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ScriptError(f"document {path}: larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScriptError(f"document {path}: not UTF-8 text") from None


def _shown(url: str) -> str:
    """The URL without credentials or query (they may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
