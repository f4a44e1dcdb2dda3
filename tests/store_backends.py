"""Which tests run on which store (tests/conftest.py parametrizes them) and the type of the
`store_factory` fixture. A module of its own: `from conftest import ...` is ambiguous here
(tests/esl has a conftest.py of its own)."""

from __future__ import annotations

from collections.abc import Callable

from esl_recorder.store.opener import StateStore

StoreFactory = Callable[[], StateStore]

# Tests under these paths (relative to tests/) that use a store run once per store: SQLite,
# and PostgreSQL on a throwaway server (skipped when none is installed, failed under CI=true).
# Everything else runs on SQLite only (reliability/test_store_full.py fills SQLite's disk;
# store/test_postgres_outage.py is its PostgreSQL counterpart).
BOTH_STORES = (
    "store/test_stores.py", "unit/test_store.py", "unit/test_service_calls.py",
    "unit/test_request_path_writes.py", "delivery/", "daemon/", "reliability/test_one_truth.py",
    "reliability/test_recordings_disk_full.py", "reliability/test_tenancy_states.py",
    "api/test_laml.py", "api/test_texml.py", "api/test_bandwidth.py",
    "api/test_bandwidth_calls.py", "lifecycle/test_readyz.py",
)
