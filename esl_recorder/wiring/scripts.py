"""Call scripts: the runner of SWML documents and Kazoo callflows on parked calls."""

from __future__ import annotations

from collections.abc import Callable

from ..accounts import AccountBook
from ..dialects.kazoo_callflow import KazooCallflows
from ..dialects.swml import SwmlScripts
from ..dialects.swml_fetch import Fetcher
from ..domain.options import AudioFormat
from ..domain.scripts import ScriptDialect, ScriptRoute, ScriptRunner
from ..settings import Settings
from .core import Core


def script_runner(settings: Settings, core: Core, accounts: AccountBook,
                  base_url: Callable[[], str]) -> ScriptRunner | None:
    """The script runner, when scripts are configured or may be sent over the API (else
    None: no events for it). `base_url`: where clients reach this daemon, once it listens."""
    conf = settings.scripts
    if not conf.documents and not conf.run_endpoint:
        return None
    fetcher = Fetcher(core.targets, conf.fetch_timeout, conf.max_document_bytes,
                      conf.max_media_bytes, f"{settings.recording.root}/_media")
    routes = [ScriptRoute(document=d.document, dialect=d.dialect, name=d.name,
                          destination=d.destination, tts_engine=d.tts_engine or conf.tts_engine,
                          tts_voice=d.tts_voice or conf.tts_voice) for d in conf.documents]
    dialects: dict[str, ScriptDialect] = {
        "swml": SwmlScripts(fetcher, accounts, core.service, base_url),
        "kazoo": KazooCallflows(fetcher, AudioFormat(settings.kazoo.default_format),
                                settings.kazoo.bridge_dial_string)}
    return ScriptRunner(routes, dialects, core.tracker, core.controls, core.service,
                        core.recordings, core.executions, core.metrics, conf.variable,
                        core.clock, core.forwarding)
