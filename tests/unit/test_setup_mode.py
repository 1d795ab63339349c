"""SetupMode: our enum, the legacy one and plain values; skip_provisioning's deprecation."""

from __future__ import annotations

import warnings

import pytest

from cassandra_llm_cache import ConfigurationError, SetupMode
from cassandra_llm_cache._storage.setup import resolve_setup_mode


def test_values_match_the_legacy_enum():
    assert [(m.name, m.value) for m in SetupMode] == [("SYNC", 1), ("ASYNC", 2), ("OFF", 3)]


def test_the_legacy_enum_is_accepted():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.utilities.cassandra import SetupMode as LegacySetupMode
    for legacy in LegacySetupMode:
        assert SetupMode.coerce(legacy) is SetupMode[legacy.name]


@pytest.mark.parametrize(("value", "mode"), [(1, SetupMode.SYNC), ("async", SetupMode.ASYNC)])
def test_plain_values_are_accepted(value, mode):
    assert SetupMode.coerce(value) is mode


@pytest.mark.parametrize("value", [None, 0, 4, True, "later", 2.0])
def test_anything_else_is_a_configuration_error(value):
    with pytest.raises(ConfigurationError, match="setup_mode"):
        SetupMode.coerce(value)


def test_skip_provisioning_means_off_and_warns():
    with pytest.warns(DeprecationWarning, match=r"SetupMode\.OFF"):
        assert resolve_setup_mode(SetupMode.SYNC, True) is SetupMode.OFF  # noqa: FBT003
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_setup_mode(SetupMode.ASYNC, False) is SetupMode.ASYNC  # noqa: FBT003
