"""Fixtures of tests/scale: the outbox harness and receivers of tests/delivery."""

from delivery.conftest import harness_factory, no_safety_nets, receivers  # noqa: F401
