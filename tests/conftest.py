from gevent import monkey

monkey.patch_all()  # tests use gevent sockets; patch before anything imports socket

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from esl_recorder.settings import Settings, settings_from_mapping  # noqa: E402

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def tmp_settings(tmp_path: Path) -> SettingsFactory:
    """Build Settings for one test: recordings and store under tmp_path, one node at `address`.

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
            "store": {"path": str(tmp_path / "state.db")},
            "http": {"port": 0},
            # the tests' callback receivers listen on loopback, refused unless allowed
            "delivery": {"allowed_networks": ["127.0.0.0/8"]},
        }
        for name, values in sections.items():
            data[name] = (values if name in ("nodes", "accounts")
                          else {**data.get(name, {}), **values})
        return settings_from_mapping(data, source="<tmp_settings>", env={})

    return make
