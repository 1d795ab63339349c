"""Validation of the arguments both cache classes take (pure: no I/O)."""

from __future__ import annotations

from typing import Any, Final

from cassandra_llm_cache._errors import ConfigurationError

MAX_TTL_SECONDS: Final = 630_720_000
"""Cassandra's longest TTL (20 years)."""
MAX_NAMESPACE_LENGTH: Final = 256


class Unset:
    """The type of :data:`UNSET`, a default that means "not given"."""

    def __repr__(self) -> str:
        return "<default>"


UNSET: Final = Unset()


def options_suffix(described: str) -> str:
    return f", {described}" if described else ""


def valid_text(text: str) -> str:
    # Cassandra's text type is strict UTF-8: a lone surrogate becomes "?" in the plaintext copy
    # (the key itself is the digest of the exact string).
    return text.encode("utf-8", "replace").decode("utf-8")


def check_ttl(ttl_seconds: object) -> int:
    """The TTL to bind: seconds, or 0 for "never expires"."""
    if ttl_seconds is None:
        return 0
    if (
        isinstance(ttl_seconds, bool)
        or not isinstance(ttl_seconds, int)
        or not 0 < ttl_seconds <= MAX_TTL_SECONDS
    ):
        msg = f"ttl_seconds must be None or an integer from 1 to {MAX_TTL_SECONDS}"
        raise ConfigurationError(msg)
    return ttl_seconds


def check_namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or len(namespace) > MAX_NAMESPACE_LENGTH:
        msg = f"namespace must be a string of at most {MAX_NAMESPACE_LENGTH} characters"
        raise ConfigurationError(msg)
    try:
        namespace.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError("namespace must be valid Unicode text") from None
    return namespace


def clear_target(kwargs: dict[str, Any]) -> str | None:
    llm_string = kwargs.pop("llm_string", None)
    if kwargs:
        msg = f"clear() got unexpected keyword arguments: {', '.join(sorted(kwargs))}"
        raise TypeError(msg)
    if llm_string is not None and not isinstance(llm_string, str):
        raise ConfigurationError("llm_string must be a string")
    return llm_string
