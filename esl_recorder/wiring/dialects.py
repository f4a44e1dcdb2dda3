"""The dialects, each given the services it uses and no more, and the recording changes they
hear: each recording's go to the dialect that started it."""

from __future__ import annotations

from ..accounts import AccountBook
from ..dialects.bandwidth import BandwidthDialect
from ..dialects.base import Dialect
from ..dialects.calling import CallingDialect
from ..dialects.kazoo import KazooDialect
from ..dialects.laml import LamlDialect
from ..dialects.relay import RelayEvents
from ..dialects.swml_http import SwmlDialect
from ..dialects.texml import TexmlDialect
from ..domain.policies import PolicyBook
from ..domain.recording import Recording, State
from ..domain.scripts import ScriptRunner
from ..settings import Settings
from .core import Core


def rest_dialects(settings: Settings, core: Core, accounts: AccountBook) -> list[Dialect]:
    """LaML, TeXML, Bandwidth and the Calling API."""
    base_url = settings.http.public_base_url or ""

    def compat(kind: type[LamlDialect] | type[TexmlDialect]) -> Dialect:
        return kind(accounts=accounts, recordings=core.service, outbox=core.outbox,
                    metrics=core.metrics, clock=core.clock,
                    default_format=settings.recording.default_format,
                    public_base_url=base_url, targets=core.targets)

    return [compat(LamlDialect), compat(TexmlDialect),
            BandwidthDialect(accounts=accounts, recordings=core.service, calls=core.calls,
                             outbox=core.outbox, settings=settings.bandwidth,
                             metrics=core.metrics, clock=core.clock, public_base_url=base_url,
                             targets=core.targets),
            CallingDialect(accounts=accounts, recordings=core.service, metrics=core.metrics,
                           public_base_url=base_url, targets=core.targets)]


def swml_dialect(settings: Settings, core: Core, accounts: AccountBook,
                 scripts: ScriptRunner | None) -> SwmlDialect:
    """SWML over HTTP: its recordings, and POST .../calls/{call_id} when scripts.run_endpoint."""
    return SwmlDialect(accounts=accounts, recordings=core.service, metrics=core.metrics,
                       runner=scripts if settings.scripts.run_endpoint else None,
                       tts=(settings.scripts.tts_engine, settings.scripts.tts_voice))


def kazoo_dialect(core: Core, accounts: AccountBook, policies: PolicyBook) -> KazooDialect:
    return KazooDialect(accounts=accounts, recordings=core.service, policies=policies,
                        outbox=core.outbox, metrics=core.metrics, targets=core.targets)


def hear_recordings(core: Core, dialects: list[Dialect], accounts: AccountBook) -> None:
    """Recording changes go to the dialect that started the recording, then to the Calling
    API's relay, then (S3 media) to the uploads: a recording's callbacks are queued first."""
    by_name = {d.name: d for d in dialects}

    def on_recording(rec: Recording, previous: State) -> None:
        dialect = by_name.get(rec.source)
        if dialect is not None:
            dialect.on_recording(rec, previous)

    core.recordings.subscribe(on_recording)
    core.recordings.subscribe(RelayEvents(accounts, core.outbox, core.clock).on_recording)
    if core.media is not None:
        core.recordings.subscribe(core.media.on_recording)
