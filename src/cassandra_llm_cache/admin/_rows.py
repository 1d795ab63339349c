"""Rows of each table kind <-> export records: the scan query and the conversions (pure).

Reading decodes each stored value (the new codec, or the legacy LangChain serialization, both
through their allow-lists) into the portable form; a value that cannot be read is reported, not
exported. Writing rebuilds the stored form for the target table's layout.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from cassandra_llm_cache._storage import legacy as _legacy
from cassandra_llm_cache._storage.rows import row_values
from cassandra_llm_cache._values import codec as _codec
from cassandra_llm_cache._values.codec import DecodeError
from cassandra_llm_cache._values.keys import legacy_key_vals_of, md5_hex
from cassandra_llm_cache.admin._records import EntryRecord, KeyHash
from cassandra_llm_cache.admin._tables import TableDescription, TableKind

if TYPE_CHECKING:
    from collections.abc import Sequence

_EXACT_READ: Final = (
    "namespace",
    "llm_key",
    "prompt_key",
    "body",
    "TTL(body)",
    "WRITETIME(body)",
    "llm_string",
    "prompt",
)
_SEMANTIC_READ: Final = (*_EXACT_READ, "embedding", "guard")
_LEGACY_READ: Final = (
    "key_desc",
    "key_vals",
    "body_blob",
    "TTL(body_blob)",
    "WRITETIME(body_blob)",
)
# langchain_community's semantic cache (cassio's metadata vector table): the prompt is in
# attributes_blob (JSON), the md5 of the llm_string in metadata_s and in row_id.
_LEGACY_SEMANTIC_READ: Final = (
    "row_id",
    "body_blob",
    "vector",
    "attributes_blob",
    "metadata_s",
    "TTL(body_blob)",
    "WRITETIME(body_blob)",
)
_LEGACY_PROMPT: Final = "_prompt"
_LEGACY_LLM_HASH: Final = "_llm_string_hash"


class UnreadableRowError(ValueError):
    """A row whose keys or value cannot be read (the message has no content)."""


def _columns(table: TableDescription) -> str:
    return ", ".join(
        {
            TableKind.EXACT: _EXACT_READ,
            TableKind.SEMANTIC: _SEMANTIC_READ,
            TableKind.LEGACY: _LEGACY_READ,
            TableKind.LEGACY_SEMANTIC: _LEGACY_SEMANTIC_READ,
        }[table.kind]
    )


def _key_condition(table: TableDescription) -> str:
    return " AND ".join(f"{column} = ?" for column in table.partition_key)


def scan_cql(table: TableDescription) -> str:
    """``SELECT`` of every column an export needs, for one token range (2 bind markers)."""
    token = f"token({', '.join(table.partition_key)})"
    return (
        f"SELECT {_columns(table)} FROM {table.qualified} "  # noqa: S608 - validated identifiers
        f"WHERE {token} > ? AND {token} <= ?"
    )


def point_cql(table: TableDescription) -> str:
    """``SELECT`` of the same columns for one entry (bind with :func:`point_values`)."""
    return f"SELECT {_columns(table)} FROM {table.qualified} WHERE {_key_condition(table)}"  # noqa: S608 - validated identifiers


def delete_cql(table: TableDescription) -> str:
    """``DELETE`` of one entry (bind with :func:`point_values`)."""
    return f"DELETE FROM {table.qualified} WHERE {_key_condition(table)}"  # noqa: S608 - validated identifiers


_INSERT_COLUMNS: Final = {
    TableKind.LEGACY: ("key_desc", "key_vals", "body_blob"),
    TableKind.EXACT: ("namespace", "llm_key", "prompt_key", "body"),
    TableKind.SEMANTIC: (
        "namespace",
        "llm_key",
        "prompt_key",
        "scope",
        "embedding",
        "body",
        "guard",
    ),
}


def insert_cql(table: TableDescription, *, with_texts: bool) -> str:
    """``INSERT`` of one entry ``USING TTL ? AND TIMESTAMP ?``; optionally the plaintext too."""
    columns = _INSERT_COLUMNS[table.kind]
    if with_texts:
        columns = (*columns, "llm_string", "prompt")
    markers = ", ".join("?" for _ in columns)
    return (
        f"INSERT INTO {table.qualified} ({', '.join(columns)}) VALUES ({markers}) "  # noqa: S608 - validated identifiers
        "USING TTL ? AND TIMESTAMP ?"
    )


def point_values(
    table: TableDescription, namespace: str, llm_key: bytes, prompt_key: bytes
) -> tuple[object, ...]:
    """The partition key of one entry, in the table's layout."""
    if table.kind is TableKind.LEGACY:
        return (_legacy.KEY_DESC, legacy_key_vals_of(llm_key, prompt_key))
    return (namespace, llm_key, prompt_key)


def record_from_row(table: TableDescription, row: Any, now: int) -> EntryRecord:
    """The export record of one scanned row; :class:`UnreadableRowError` if it is unreadable."""
    values = row_values(row)
    if table.kind is TableKind.LEGACY:
        return _from_legacy(values, now)
    if table.kind is TableKind.LEGACY_SEMANTIC:
        return _from_legacy_semantic(values, now)
    namespace, llm_key, prompt_key, body, ttl, written, llm_string, prompt = values[:8]
    try:
        plain = _codec.to_plain(_codec.decode(body))
    except DecodeError as exc:
        raise UnreadableRowError(str(exc)) from None
    embedding = guard = None
    if table.kind is TableKind.SEMANTIC:
        vector, guard = values[8], values[9]
        embedding = [float(x) for x in vector] if vector is not None else None
    key_hash = table.key_hash
    if (
        len(llm_key or b"") != key_hash.digest_size
        or len(prompt_key or b"") != key_hash.digest_size
    ):
        raise UnreadableRowError(f"the keys are not {key_hash.value} digests")
    return EntryRecord(
        namespace=namespace or "",
        key_hash=key_hash,
        llm_key=bytes(llm_key),
        prompt_key=bytes(prompt_key),
        value=plain,
        expires_at=now + ttl if ttl is not None else None,
        written_at=written,
        llm_string=llm_string,
        prompt=prompt,
        embedding=embedding,
        guard=guard,
    )


def _from_legacy(values: Sequence[Any], now: int) -> EntryRecord:
    key_desc, key_vals, body, ttl, written = values[:5]
    if key_desc != _legacy.KEY_DESC:
        raise UnreadableRowError("unknown key_desc")
    try:
        llm_hex, prompt_hex = json.loads(key_vals)
        llm_key, prompt_key = bytes.fromhex(llm_hex), bytes.fromhex(prompt_hex)
    except (TypeError, ValueError):
        raise UnreadableRowError("malformed key_vals") from None
    if len(llm_key) != KeyHash.MD5.digest_size or len(prompt_key) != KeyHash.MD5.digest_size:
        raise UnreadableRowError("the keys are not md5 digests")
    try:
        plain = _codec.to_plain(_legacy.decode_body(body))
    except DecodeError as exc:
        raise UnreadableRowError(str(exc)) from None
    return EntryRecord(
        namespace="",
        key_hash=KeyHash.MD5,
        llm_key=llm_key,
        prompt_key=prompt_key,
        value=plain,
        expires_at=now + ttl if ttl is not None else None,
        written_at=written,
    )


def _from_legacy_semantic(values: Sequence[Any], now: int) -> EntryRecord:
    """A row of langchain_community's semantic cache: md5 keys, its prompt and its vector.

    The row is unreadable unless its keys, prompt and value agree: the prompt's md5 is the
    row's prompt key (the prompt is needed to embed it again and for the guard and the chat
    context; a prompt that does not match would make the entry unreachable by key).
    """
    row_id, body, vector, attributes, metadata, ttl, written = values[:7]
    prompt_hex, _, llm_hex = (row_id or "").partition("-")
    try:
        prompt_key, llm_key = bytes.fromhex(prompt_hex), bytes.fromhex(llm_hex)
    except ValueError:
        raise UnreadableRowError("malformed row_id") from None
    if len(llm_key) != KeyHash.MD5.digest_size or len(prompt_key) != KeyHash.MD5.digest_size:
        raise UnreadableRowError("the row_id is not two md5 digests")
    stored_hash = (metadata or {}).get(_LEGACY_LLM_HASH)
    if stored_hash is not None and stored_hash != llm_key.hex():
        raise UnreadableRowError("row_id and metadata_s name different models")
    prompt = _legacy_prompt(attributes)
    if md5_hex(prompt) != prompt_key.hex():
        raise UnreadableRowError("the stored prompt does not match the row_id")
    try:
        plain = _codec.to_plain(_legacy.decode_body(body))
    except DecodeError as exc:
        raise UnreadableRowError(str(exc)) from None
    embedding = [float(x) for x in vector] if vector is not None else None
    return EntryRecord(
        namespace="",
        key_hash=KeyHash.MD5,
        llm_key=llm_key,
        prompt_key=prompt_key,
        value=plain,
        expires_at=now + ttl if ttl is not None else None,
        written_at=written,
        prompt=prompt,
        embedding=embedding,
    )


def _legacy_prompt(attributes: object) -> str:
    """The prompt cassio keeps in ``attributes_blob`` (``{"_prompt": ...}``, JSON)."""
    try:
        data = json.loads(attributes) if isinstance(attributes, str) else None
    except ValueError:
        data = None
    prompt = data.get(_LEGACY_PROMPT) if isinstance(data, dict) else None
    if not isinstance(prompt, str):
        raise UnreadableRowError("no prompt in attributes_blob")
    return prompt
