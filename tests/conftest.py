"""Isolation between tests, and property tests that draw the same examples on every run.

Hypothesis runs under the ``ci`` profile unless ``HYPOTHESIS_PROFILE`` names another:
derandomized (the examples follow from each test's source, so one commit gives one result),
with a fixed budget, no example database and no deadline (a loaded CI box must not turn a slow
example into a failure). ``make fuzz`` uses the ``fuzz`` profile: random seeds, 10,000 examples
per test, failures saved in ``.hypothesis/``; whatever it finds becomes an ``@example`` here.
"""

import os
import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from cassandra_llm_cache._storage import connection as _connection

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    derandomize=False,
    max_examples=10_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _forget_global_connections() -> Iterator[None]:
    """Reset ``init()`` and cassio's globals after each test.

    Caches fall back to both when given no session; a session left there by one test (and shut
    down by it) would otherwise be picked up by a later test.
    """
    yield
    _connection.reset()
    cassio_config = sys.modules.get("cassio.config")
    if cassio_config is not None:
        cassio_config.default_session = None  # type: ignore[attr-defined]
        cassio_config.default_keyspace = None  # type: ignore[attr-defined]
