"""The export format: one cache entry per line of JSON, self-describing (pure).

Every line is a JSON object::

    {"format": "cassandra-llm-cache-entry", "version": 1,
     "namespace": "", "key_hash": "sha256", "llm_key": "<hex>", "prompt_key": "<hex>",
     "value": [...], "expires_at": 1767225600, "written_at": 1767139200123456,
     "llm_string": "...", "prompt": "..."}

- ``key_hash`` names how the two keys were derived from the model string and the prompt:
  ``sha256`` (this package's tables) or ``md5`` (tables written by ``langchain_community``, and
  tables migrated from them). Keys are hex digests; hashing is one-way, so an entry moves to a
  table keyed differently only if it carries its ``llm_string`` and ``prompt`` (stored in plain
  text only when the cache was asked to: ``store_plaintext=True``).
- ``value`` is the list of generations in the codec's portable form (JSON, readable with jq,
  independent of compression and table layout).
- ``embedding`` and ``guard`` are present for semantic-cache entries only.
- ``expires_at`` is when the entry expires (Unix seconds; ``null``: never), from ``TTL(body)``
  at export time; ``written_at`` is its write time (microseconds, Cassandra's ``WRITETIME``).

Importing checks every field; a malformed line is reported with its line number, never its
content.
"""

from __future__ import annotations

import binascii
import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from cassandra_llm_cache._policy.arguments import MAX_NAMESPACE_LENGTH
from cassandra_llm_cache._values import codec as _codec
from cassandra_llm_cache._values.codec import DecodeError
from cassandra_llm_cache._values.keys import md5_hex, sha256_key

if TYPE_CHECKING:
    from langchain_core.outputs import Generation

FORMAT: Final = "cassandra-llm-cache-entry"
VERSION: Final = 1
MAX_TTL: Final = 630_720_000
"""Cassandra's longest TTL (20 years)."""


class KeyHash(str, Enum):
    """How an entry's keys were derived from its model string and prompt."""

    SHA256 = "sha256"
    MD5 = "md5"

    @property
    def digest_size(self) -> int:
        return 32 if self is KeyHash.SHA256 else 16

    def digest(self, text: str) -> bytes:
        if self is KeyHash.SHA256:
            return sha256_key(text)
        return bytes.fromhex(md5_hex(text))


class RecordError(ValueError):
    """A line is not a valid entry (the message names the field, never its content)."""


class SkipRecordError(Exception):
    """A record that is not migrated; the message is the reason counted (never content)."""


@dataclass(frozen=True)
class EntryRecord:
    """One cache entry, independent of the table it came from."""

    namespace: str
    key_hash: KeyHash
    llm_key: bytes
    prompt_key: bytes
    value: list[Any]
    """The generations in the codec's portable form (``_codec.to_plain``)."""
    expires_at: int | None = None
    written_at: int | None = None
    llm_string: str | None = None
    prompt: str | None = None
    embedding: list[float] | None = None
    """Semantic-cache entries only: the prompt's vector."""
    guard: str | None = None
    """Semantic-cache entries only: the guard's salted feature digests (no text)."""

    def __repr__(self) -> str:
        # No prompt, no response, no key in logs.
        return f"EntryRecord(namespace={self.namespace!r}, key_hash={self.key_hash.value!r})"

    @property
    def has_texts(self) -> bool:
        return self.llm_string is not None and self.prompt is not None

    def keys_for(self, key_hash: KeyHash) -> tuple[bytes, bytes] | None:
        """``(llm_key, prompt_key)`` under ``key_hash``; ``None`` if they cannot be derived."""
        if key_hash is self.key_hash:
            return self.llm_key, self.prompt_key
        if self.llm_string is None or self.prompt is None:
            return None
        return key_hash.digest(self.llm_string), key_hash.digest(self.prompt)

    def ttl_at(self, now: float) -> int | None:
        """Seconds left to live at ``now`` (``None``: no expiry; ``0`` or less: expired)."""
        if self.expires_at is None:
            return None
        return math.floor(self.expires_at - now)

    def generations(self) -> list[Generation]:
        """The value as LangChain generations (allow-listed classes only); RecordError if not."""
        try:
            return _codec.from_plain(self.value)
        except DecodeError as exc:
            raise RecordError(f"'value' is not a list of generations: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "namespace": self.namespace,
            "key_hash": self.key_hash.value,
            "llm_key": self.llm_key.hex(),
            "prompt_key": self.prompt_key.hex(),
            "value": self.value,
            "expires_at": self.expires_at,
            "written_at": self.written_at,
        }
        if self.llm_string is not None:
            line["llm_string"] = self.llm_string
        if self.prompt is not None:
            line["prompt"] = self.prompt
        if self.embedding is not None:
            line["embedding"] = self.embedding
        if self.guard is not None:
            line["guard"] = self.guard
        return line


@dataclass(frozen=True)
class TtlPolicy:
    """How imported entries expire: ``keep`` their remaining TTL, ``none``, or ``seconds``."""

    mode: str = "keep"
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> TtlPolicy:
        if text in {"keep", "none"}:
            return cls(text)
        try:
            seconds = int(text)
        except ValueError:
            raise ValueError("--ttl must be 'keep', 'none' or a number of seconds") from None
        if not 0 < seconds <= MAX_TTL:
            raise ValueError(f"--ttl seconds must be from 1 to {MAX_TTL}")
        return cls("seconds", seconds)

    def ttl_for(self, record: EntryRecord, now: float) -> int | None:
        """Seconds to bind (0: no expiry), or None when the entry has already expired."""
        if self.mode == "none":
            return 0
        if self.mode == "seconds":
            return self.seconds
        left = record.ttl_at(now)
        if left is None:
            return 0
        return min(left, MAX_TTL) if left > 0 else None


def to_line(record: EntryRecord) -> bytes:
    """One line of the export file, newline included."""
    return _codec.dumps_json(record.to_json()) + b"\n"


def from_line(line: bytes | str) -> EntryRecord:
    """Parse and check one line; :class:`RecordError` if it is not a valid entry."""
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    try:
        data = _codec.loads_json(raw)
    except DecodeError:
        raise RecordError("not valid JSON") from None
    return from_json(data)


def from_json(data: Any) -> EntryRecord:
    if type(data) is not dict:
        raise RecordError("not a JSON object")
    if data.get("format") != FORMAT:
        raise RecordError(f"'format' is not {FORMAT!r}")
    version = data.get("version")
    if type(version) is not int or version > VERSION or version < 1:
        raise RecordError(f"unsupported 'version' (this release reads version {VERSION})")
    try:
        key_hash = KeyHash(data.get("key_hash"))
    except ValueError:
        raise RecordError("'key_hash' must be 'sha256' or 'md5'") from None
    namespace = data.get("namespace", "")
    if type(namespace) is not str or len(namespace) > MAX_NAMESPACE_LENGTH:
        raise RecordError("'namespace' must be a string of at most 256 characters")
    value = data.get("value")
    if type(value) is not list:
        raise RecordError("'value' must be a list of generations")
    return EntryRecord(
        namespace=namespace,
        key_hash=key_hash,
        llm_key=_digest(data, "llm_key", key_hash),
        prompt_key=_digest(data, "prompt_key", key_hash),
        value=value,
        expires_at=_optional_int(data, "expires_at"),
        written_at=_optional_int(data, "written_at"),
        llm_string=_optional_text(data, "llm_string"),
        prompt=_optional_text(data, "prompt"),
        embedding=_optional_vector(data, "embedding"),
        guard=_optional_text(data, "guard"),
    )


def _digest(data: dict[str, Any], name: str, key_hash: KeyHash) -> bytes:
    text = data.get(name)
    try:
        digest = bytes.fromhex(text) if type(text) is str else b""
    except (ValueError, binascii.Error):
        digest = b""
    if len(digest) != key_hash.digest_size:
        msg = f"{name!r} must be a {key_hash.value} digest ({key_hash.digest_size * 2} hex digits)"
        raise RecordError(msg)
    return digest


def _optional_int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise RecordError(f"{name!r} must be a non-negative integer or null")
    return value


def _optional_text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or type(value) is str:
        return value
    raise RecordError(f"{name!r} must be a string or absent")


def _optional_vector(data: dict[str, Any], name: str) -> list[float] | None:
    value = data.get(name)
    if value is None:
        return None
    if (
        type(value) is not list
        or not value
        or not all(type(x) in (int, float) and math.isfinite(x) for x in value)
    ):
        raise RecordError(f"{name!r} must be a non-empty list of finite numbers or absent")
    return [float(x) for x in value]
