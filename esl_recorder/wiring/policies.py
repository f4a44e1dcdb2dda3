"""Kazoo's recording policies: the book of policy documents, the recorder that starts a
recording on the calls they cover, and (several daemons) the watch for other daemons' changes."""

from __future__ import annotations

import logging

from ..dialects.kazoo_policies import load_policies
from ..domain.options import AudioFormat
from ..domain.policies import PolicyBook
from ..domain.policy_recorder import PolicyRecorder
from ..errors import StoreError
from ..repeating import Repeating
from ..settings import Settings
from ..store.opener import StateStore
from .core import Core

log = logging.getLogger(__name__)


def policy_book(settings: Settings, store: StateStore) -> PolicyBook:
    """The policy file's documents with the API's changes (kept in the store) over them. A
    bad file stops the start with its problem."""
    book = PolicyBook(store, AudioFormat(settings.kazoo.default_format))
    load_policies(book, settings.kazoo.policy_file)
    return book


def policy_recorder(settings: Settings, core: Core, policies: PolicyBook) -> PolicyRecorder:
    return PolicyRecorder(policies, core.tracker, core.service, core.controls,
                          settings.kazoo.direction_variable, settings.kazoo.network_variable)


def watch_policies(policies: PolicyBook, interval: float) -> Repeating:
    """Several daemons: a Kazoo policy changed over another daemon's API is in force here
    (for the calls of the nodes this daemon owns) within `interval` seconds."""
    def check() -> None:
        try:
            policies.refresh()
        except StoreError as exc:
            log.warning("recording policies not checked for changes: %s", exc)

    return Repeating("checking recording policies for changes", interval, check)
