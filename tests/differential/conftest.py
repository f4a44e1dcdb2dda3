"""The differential tests use the live server of tests/integration (ESL_RECORDER_FS), and are
counted with the integration tests in the summary line (the report hook is per directory)."""

from integration.conftest import freeswitch, pytest_runtest_logreport  # noqa: F401
