"""Serving a table written by ``langchain_community.cache.CassandraCache`` (cassio), in place.

The legacy layout keys each entry by ``key_desc`` (always ``["llm_string","prompt"]``) and
``key_vals`` (``["<md5(llm_string)>","<md5(prompt)>"]``, compact JSON), and stores ``body_blob``:
a JSON array of JSON strings, each ``langchain_core.load.dumps(generation)``. Entries are written
here in exactly that form, so the old class reads ours and we read its.

Reading never calls ``langchain_core.load.loads``: the LangChain serialization format is walked
here and only allow-listed generation and message classes are ever instantiated (the same
classes as the new codec); anything else - another class, a secret, a "not implemented"
placeholder - makes the value unreadable, i.e. a miss.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from langchain_core.outputs import Generation

from cassandra_llm_cache._storage.rows import first_value, row_values
from cassandra_llm_cache._storage.store import ClearPlan
from cassandra_llm_cache._values import codec as _codec
from cassandra_llm_cache._values.codec import DecodeError
from cassandra_llm_cache._values.keys import legacy_key_vals, md5_hex

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from cassandra.query import PreparedStatement

    from cassandra_llm_cache._policy.arguments import TtlValue

KEY_DESC: Final = '["llm_string","prompt"]'
_ESCAPED: Final = "__lc_escaped__"
_ALLOWED: Final[dict[str, type[Any]]] = {**_codec.GENERATION_CLASSES, **_codec.MESSAGE_CLASSES}
_ID_ROOTS: Final = frozenset({"langchain", "langchain_core"})
_MAX_DEPTH: Final = 64
_PLAIN_GENERATION_KEYS: Final = frozenset({"text", "generation_info", "type"})


def encode_body(generations: Sequence[Generation]) -> str:
    """``body_blob`` for ``generations``, as the legacy class writes it."""
    from langchain_core.load import dumps

    # Same refusals as the new layout: nothing is stored that would not read back equal.
    _codec.dumps_json(_codec.to_plain(generations))
    return json.dumps([dumps(generation) for generation in generations])


def decode_body(body: object) -> list[Generation]:
    """The generations in a legacy ``body_blob``; :class:`DecodeError` if unreadable."""
    if not isinstance(body, str):
        raise DecodeError("the legacy value is not text")
    items = _codec.loads_json(body.encode("utf-8", "surrogatepass"))
    if type(items) is not list:
        raise DecodeError("the legacy value is not a list")
    try:
        if all(type(item) is str for item in items):
            return [_generation(_revive(_codec.loads_json(_utf8(item)), 0)) for item in items]
        if all(type(item) is dict for item in items):
            # The oldest format: plain {"text": ..., "generation_info": ...} objects.
            return [_plain_generation(item) for item in items]
    except DecodeError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        raise DecodeError(f"the legacy value is malformed ({type(exc).__name__})") from exc
    raise DecodeError("the legacy value is not a list of serialized generations")


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _generation(value: Any) -> Generation:
    if not isinstance(value, Generation):
        raise DecodeError("a legacy entry is not a generation")
    return value


def _plain_generation(item: dict[str, Any]) -> Generation:
    if not set(item) <= _PLAIN_GENERATION_KEYS or item.get("type", "Generation") != "Generation":
        raise DecodeError("a legacy entry has unexpected fields")
    text, info = item.get("text"), item.get("generation_info")
    if not isinstance(text, str) or not (info is None or isinstance(info, dict)):
        raise DecodeError("a legacy entry has fields of the wrong type")
    return Generation(text=text, generation_info=info)


def _revive(node: Any, depth: int) -> Any:
    """Rebuild LangChain-serialized data, instantiating allow-listed classes only."""
    if depth > _MAX_DEPTH:
        raise DecodeError("the legacy value is nested too deeply")
    if type(node) is list:
        return [_revive(item, depth + 1) for item in node]
    if type(node) is not dict:
        return node
    if len(node) == 1 and _ESCAPED in node:
        return node[_ESCAPED]  # user data that merely looked serialized: returned verbatim
    if node.get("lc") == 1 and "id" in node and "type" in node:
        if node["type"] != "constructor":
            raise DecodeError(f"the legacy value contains a {str(node['type'])[:20]!r} entry")
        cls = _allowed_class(node["id"])
        kwargs = node.get("kwargs", {})
        if type(kwargs) is not dict:
            raise DecodeError("malformed constructor arguments in the legacy value")
        return cls(**{key: _revive(value, depth + 1) for key, value in kwargs.items()})
    return {key: _revive(value, depth + 1) for key, value in node.items()}


def _allowed_class(ident: Any) -> type[Any]:
    if (
        type(ident) is not list
        or not ident
        or not all(type(part) is str for part in ident)
        or ident[0] not in _ID_ROOTS
    ):
        raise DecodeError("malformed class id in the legacy value")
    cls = _ALLOWED.get(ident[-1])
    if cls is None:
        raise DecodeError("the legacy value names a class outside the allow-list")
    return cls


class LegacyLayout:
    """Keys, values and statements for a legacy table (bind values only; no I/O)."""

    __slots__ = ("_delete", "_insert", "_scan", "_select", "_truncate")

    def __init__(self, statements: Mapping[str, PreparedStatement]) -> None:
        self._select = statements["select"]
        self._insert = statements["insert"]
        self._delete = statements["delete"]
        self._truncate = statements["truncate"]
        self._scan = statements["scan"]

    def select(self, prompt: str, llm_string: str) -> tuple[PreparedStatement, tuple[object, ...]]:
        return self._select, (KEY_DESC, legacy_key_vals(prompt, llm_string))

    def insert(
        self, prompt: str, llm_string: str, generations: Sequence[Generation], ttl: TtlValue
    ) -> tuple[PreparedStatement, tuple[object, ...]]:
        body = encode_body(generations)
        return self._insert, (KEY_DESC, legacy_key_vals(prompt, llm_string), body, ttl)

    def delete(self, prompt: str, llm_string: str) -> tuple[PreparedStatement, tuple[object, ...]]:
        return self._delete, (KEY_DESC, legacy_key_vals(prompt, llm_string))

    near_rebuild: Final = staticmethod(decode_body)
    """How a near cache rebuilds a kept legacy value: the full decoder (see ``near.Kept``)."""

    def decode(self, row: Any) -> list[Generation]:
        return decode_body(first_value(row))

    def clear_plan(self, llm_string: str | None) -> ClearPlan:
        if llm_string is None:
            return ClearPlan(truncate=self._truncate)
        prefix = f'["{md5_hex(llm_string)}",'

        def to_delete(rows: Sequence[Any]) -> list[tuple[object, ...]]:
            keys = (row_values(row) for row in rows)
            return [
                (desc, vals)
                for desc, vals in keys
                if desc == KEY_DESC and isinstance(vals, str) and vals.startswith(prefix)
            ]

        return ClearPlan(scan=self._scan, delete=self._delete, to_delete=to_delete)
