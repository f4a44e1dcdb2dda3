"""The lifecycle tests reuse the daemon tests' simulator and in-process daemon."""

from daemon.conftest import daemon, daemon_factory, switch  # noqa: F401 (fixtures)
