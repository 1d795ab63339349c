"""The public API is exactly what ``__all__`` lists, sorted, and every name resolves."""

import subprocess
import sys

import pytest

import cassandra_llm_cache


def test_all_is_sorted_and_every_name_resolves():
    names = cassandra_llm_cache.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(cassandra_llm_cache, name) is not None
    assert {"CassandraCache", "CassandraSemanticCache", "SetupMode", "init"} <= set(names)


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = cassandra_llm_cache.no_such_thing  # type: ignore[attr-defined]


def test_importing_the_package_does_not_import_the_driver():
    code = "import sys, cassandra_llm_cache; print('cassandra.cluster' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
