"""The worker tests' plant (an embedded bus, a blob store, real segments) reused for the worker metrics."""

from tests.unit.analytics.test_worker import plant  # noqa: F401  (a fixture, found by name)
