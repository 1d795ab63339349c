"""Validation of the arguments both cache classes take (pure: no I/O)."""

from __future__ import annotations

from typing import Any, Final

from cassandra.query import UNSET_VALUE

from cassandra_llm_cache._errors import ConfigurationError

MAX_TTL_SECONDS: Final = 630_720_000
"""Cassandra's longest TTL (20 years)."""
MAX_NAMESPACE_LENGTH: Final = 256
TABLE_LAYOUTS: Final = ("auto", "exact", "legacy")
"""What ``CassandraCache(layout=...)`` accepts: detect an existing table's layout and create the
exact one when missing (``"auto"``), or insist on one layout, creating the table with it."""


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


TtlValue = object
"""What a write binds to ``USING TTL ?``: seconds, or :data:`TABLE_DEFAULT_TTL`."""

TABLE_DEFAULT_TTL: Final[TtlValue] = UNSET_VALUE
"""Bound for ``ttl_seconds=None``: left unset, Cassandra applies the table's
``default_time_to_live`` (none on the tables the caches create: the entry never expires), exactly
as the legacy classes did by leaving ``USING TTL`` out. Needs protocol v4 or later."""


def check_ttl(ttl_seconds: object) -> TtlValue:
    """The TTL to bind: seconds, or :data:`TABLE_DEFAULT_TTL` for ``None``."""
    if ttl_seconds is None:
        return TABLE_DEFAULT_TTL
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


def check_layout(layout: object, *, namespace: str = "", store_plaintext: bool = False) -> str:
    """``layout`` as one of :data:`TABLE_LAYOUTS` (any case, surrounding blanks ignored).

    The legacy layout has neither namespaces nor plaintext columns: asking for either is refused
    here, before setup could create a legacy table the cache then cannot use.
    """
    if not isinstance(layout, str) or layout.strip().lower() not in TABLE_LAYOUTS:
        shown = repr(layout)[:40] if isinstance(layout, str) else type(layout).__name__
        msg = f"layout must be 'auto', 'exact' or 'legacy', not {shown}"
        raise ConfigurationError(msg)
    layout = layout.strip().lower()
    if layout == "legacy" and (namespace or store_plaintext):
        option = "namespace" if namespace else "store_plaintext"
        msg = (
            f"layout='legacy' (langchain_community's layout) has no {option}: "
            f"drop {option}, or use layout='auto'"
        )
        raise ConfigurationError(msg)
    return layout


def clear_target(kwargs: dict[str, Any]) -> str | None:
    llm_string = kwargs.pop("llm_string", None)
    if kwargs:
        msg = f"clear() got unexpected keyword arguments: {', '.join(sorted(kwargs))}"
        raise TypeError(msg)
    if llm_string is not None and not isinstance(llm_string, str):
        raise ConfigurationError("llm_string must be a string")
    return llm_string
