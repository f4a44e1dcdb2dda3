"""A recording's media as an HTTP answer, wherever it is kept: the local file (ranges and
conditional requests, werkzeug's send_file), the object relayed from storage, or a redirect
to a short-lived presigned URL. Every dialect checks its own auth before asking for it."""

from __future__ import annotations

from typing import Any

from werkzeug.utils import redirect, send_file
from werkzeug.wrappers import Response

from ..domain.ports import Media, MediaFile, MediaRedirect


def media_response(media: Media, environ: dict[str, Any], *, mimetype: str,
                   download_name: str) -> Response:
    if isinstance(media, MediaFile):
        return send_file(media.path, environ, mimetype=mimetype,
                         download_name=download_name, conditional=True)
    if isinstance(media, MediaRedirect):
        response = redirect(media.url, code=302)
        response.headers["Cache-Control"] = "no-store"  # the URL expires soon
        return response
    response = Response(media.chunks, mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(media.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{download_name}"'
    response.call_on_close(media.close)
    return response
