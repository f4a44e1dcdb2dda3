from gevent import monkey

monkey.patch_all()  # tests use gevent sockets; patch before anything imports socket

import os  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from postgres_server import ThrowawayPostgres, find_bindir  # noqa: E402
from store_backends import BOTH_STORES, StoreFactory  # noqa: E402

from esl_recorder.settings import Settings, StoreSettings, settings_from_mapping  # noqa: E402
from esl_recorder.store.opener import StateStore, open_store  # noqa: E402

SettingsFactory = Callable[..., Settings]

TESTS = Path(__file__).parent


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" not in metafunc.fixturenames:
        return
    where = metafunc.definition.path.relative_to(TESTS).as_posix()
    if where.startswith(BOTH_STORES):
        metafunc.parametrize("store_backend", ["sqlite", "postgres"])


@pytest.fixture
def store_backend() -> str:
    """Which store a test's settings and stores use (see BOTH_STORES)."""
    return "sqlite"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    """One throwaway PostgreSQL for the session (127.0.0.1, a free port, its own dir)."""
    bindir = find_bindir()
    if bindir is None:
        message = ("PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin, "
                   "$ESL_RECORDER_PG_BINDIR or PATH): apt-get install postgresql")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = ThrowawayPostgres(bindir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def store_section(request: pytest.FixtureRequest, store_backend: str,
                  tmp_path: Path) -> dict[str, Any]:
    """The `store` settings of one test: SQLite under tmp_path, or (postgres) a fresh
    database of its own on the session's server."""
    section: dict[str, Any] = {"path": str(tmp_path / "state.db")}
    if store_backend == "postgres":
        server: ThrowawayPostgres = request.getfixturevalue("postgres_server")
        section["url"] = server.new_database()
    return section


@pytest.fixture
def store_factory(store_section: dict[str, Any]) -> Iterator[StoreFactory]:
    """Opens the test's store (each call another handle on the same one, like a restart);
    whatever is still open at the end is closed."""
    opened: list[StateStore] = []

    def make() -> StateStore:
        opened.append(open_store(StoreSettings(**store_section)))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def tmp_settings(tmp_path: Path, store_section: dict[str, Any]) -> SettingsFactory:
    """Build Settings for one test: recordings and store under tmp_path (or the store on
    PostgreSQL: store_section), one node at `address`.

    `tmp_settings(("127.0.0.1", port), password="x", esl={"command_timeout": 1})` - extra
    keyword arguments are YAML sections merged over these (`nodes=[...]` replaces the list).
    The process environment is ignored.
    """

    def make(address: tuple[str, int] = ("127.0.0.1", 8021), password: str = "ClueCon",
             **sections: Any) -> Settings:
        data: dict[str, Any] = {
            "nodes": [{"name": "fs1", "host": address[0], "port": address[1],
                       "password": password}],
            "recording": {"root": str(tmp_path / "recordings")},
            "store": dict(store_section),
            "http": {"port": 0},
            # the tests' callback receivers listen on loopback, refused unless allowed
            "delivery": {"allowed_networks": ["127.0.0.0/8"]},
        }
        for name, values in sections.items():
            data[name] = (values if name in ("nodes", "accounts")
                          else {**data.get(name, {}), **values})
        return settings_from_mapping(data, source="<tmp_settings>", env={})

    return make
