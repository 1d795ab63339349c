"""The value codec: a list of generations <-> versioned, compressed-when-large bytes (pure).

Layout of an encoded value::

    MAGIC (4 bytes) | format version (1 byte) | compression (1 byte) | payload

The payload is JSON (compressed with zstd or zlib when it is larger than
``COMPRESSION_THRESHOLD`` and compressing helps): a list with one object per generation. Objects
are rebuilt only into the allow-listed classes below; nothing is unpickled and nothing is looked
up by name outside these tables, so a stored value can never make the decoder run foreign code.

JSON is produced by ``orjson`` when it is installed and by the standard library otherwise; both
write the same format and read each other's output, and every value that is stored comes back
equal and of the same types whichever library wrote it and whichever reads it. Values that one of
them cannot carry exactly raise :class:`EncodeError` (the entry is not cached rather than cached
altered): objects whose type is not exactly str/int/float/bool/None/list/dict (tuples, subclasses
such as enums, datetimes), dict keys that are not strings, NaN and infinity (orjson would write
``null``), and integers outside ``-2**63 .. 2**64 - 1`` (orjson reads a larger integer that the
standard library wrote as a float). Text with lone surrogates round-trips exactly (the JSON
carries them as ``\\u`` escapes), but a string holding a high surrogate followed by a low one is
refused (its escapes would read back as one character); ``-0.0``, subnormal and huge floats
round-trip bit for bit.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk
from pydantic import BaseModel

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

try:
    import orjson

    HAVE_ORJSON = True
except ImportError:  # pragma: no cover - only without the `fast` extra
    HAVE_ORJSON = False

try:
    import zstandard

    HAVE_ZSTD = True
except ImportError:  # pragma: no cover - only without the `fast` extra
    HAVE_ZSTD = False

MAGIC: Final = b"\x89CLC"
FORMAT_VERSION: Final = 1
HEADER_SIZE: Final = len(MAGIC) + 2
COMPRESSION_THRESHOLD: Final = 16 * 1024
"""Payloads up to this many bytes are stored uncompressed.

Decompressing is ~5 us in a tight loop but cost 30-90 us of client CPU per hit next to the
driver's I/O thread (``zstandard`` releases the GIL, and taking it back is a thread handoff),
while the table's own LZ4 compression already shrinks small values on disk; on a LAN the bytes
zstd saves on a value below 16 KiB take less time to send than that handoff. Larger values are
compressed: there the saved network and memtable bytes win.
"""
MAX_DECODED_SIZE: Final = 64 * 1024 * 1024
"""A stored value never inflates beyond this (guards against forged compressed data)."""
ZSTD_LEVEL: Final = 1
ZLIB_LEVEL: Final = 6


class Compression(IntEnum):
    """How the payload after the header is compressed (the header's last byte)."""

    NONE = 0
    ZLIB = 1
    ZSTD = 2


DEFAULT_COMPRESSION: Final = Compression.ZSTD if HAVE_ZSTD else Compression.ZLIB


class EncodeError(ValueError):
    """The value cannot be stored faithfully. The message names the reason, never the content."""


class DecodeError(ValueError):
    """Stored bytes are not a value this release can read (foreign, corrupt or too new)."""


_GENERATION_NAMES: Final[dict[type[Generation], str]] = {
    Generation: "Generation",
    GenerationChunk: "GenerationChunk",
    ChatGeneration: "ChatGeneration",
    ChatGenerationChunk: "ChatGenerationChunk",
}
_GENERATION_CLASSES: Final = {name: cls for cls, name in _GENERATION_NAMES.items()}

_MESSAGE_NAMES: Final[dict[type[BaseMessage], str]] = {
    AIMessage: "AIMessage",
    AIMessageChunk: "AIMessageChunk",
    HumanMessage: "HumanMessage",
    SystemMessage: "SystemMessage",
    ChatMessage: "ChatMessage",
    ToolMessage: "ToolMessage",
    FunctionMessage: "FunctionMessage",
}
MESSAGE_CLASSES: Final = {name: cls for cls, name in _MESSAGE_NAMES.items()}
"""The message classes a stored value may contain, by class name."""
GENERATION_CLASSES: Final = dict(_GENERATION_CLASSES)
"""The generation classes a stored value may contain, by class name."""

_NONE_TYPE: Final = type(None)
# Types the rebuilt messages' fields must have; other keys become the message's extra fields.
_FIELD_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "content": (str, list),
    "additional_kwargs": (dict,),
    "response_metadata": (dict,),
    "name": (str, _NONE_TYPE),
    "id": (str, _NONE_TYPE),
    "tool_calls": (list,),
    "invalid_tool_calls": (list,),
    "tool_call_chunks": (list,),
    "usage_metadata": (dict, _NONE_TYPE),
    "chunk_position": (str, _NONE_TYPE),
    "role": (str,),
    "tool_call_id": (str,),
    "status": (str,),
}
_LIST_OF_DICTS: Final = frozenset({"tool_calls", "invalid_tool_calls", "tool_call_chunks"})
# Per message class: (field name, allowed types, must be a list of objects) for its typed fields.
_FIELD_CHECKS: Final = {
    cls: tuple(
        (name, types, name in _LIST_OF_DICTS)
        for name, types in _FIELD_TYPES.items()
        if name in cls.model_fields
    )
    for cls in _MESSAGE_NAMES
}

# Per message class: its field names except ``type`` (never stored, always the class's own).
_MESSAGE_KEYS: Final = {cls: frozenset(cls.model_fields) - {"type"} for cls in _MESSAGE_NAMES}

_HEADERS: Final = {codec: MAGIC + bytes((FORMAT_VERSION, codec)) for codec in Compression}

_local = threading.local()  # zstd contexts are not thread-safe; one pair per thread


def encode(
    generations: Sequence[Generation],
    *,
    compression: Compression = DEFAULT_COMPRESSION,
    fast_json: bool = HAVE_ORJSON,
) -> bytes:
    """``generations`` as stored bytes. Raises :class:`EncodeError` if they cannot be stored."""
    payload = dumps_json(to_plain(generations), fast=fast_json)
    codec = Compression.NONE
    if compression is not Compression.NONE and len(payload) > COMPRESSION_THRESHOLD:
        packed = _compress(payload, compression)
        if len(packed) < len(payload):
            payload, codec = packed, compression
    return _HEADERS[codec] + payload


def decode(data: bytes, *, fast_json: bool = HAVE_ORJSON) -> list[Generation]:
    """The generations in ``data``. Raises :class:`DecodeError` for anything unreadable."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("the stored value is not a blob")
    data = bytes(data)
    if len(data) < HEADER_SIZE or not data.startswith(MAGIC):
        raise DecodeError("the stored value was not written by cassandra-llm-cache")
    if data[4] != FORMAT_VERSION:
        raise DecodeError(f"format version {data[4]} is not supported by this release")
    return from_plain(loads_json(_payload(data), fast=fast_json))


def kept_form(data: bytes) -> tuple[Callable[[bytes], list[Generation]], bytes]:
    """How to keep a value :func:`decode` has read so that it rebuilds fast: ``(rebuild, kept)``.

    An uncompressed value is kept as its JSON payload, which :func:`rebuild` turns into new
    generations without the checks these very bytes already passed. A compressed one (over
    ``COMPRESSION_THRESHOLD``) is kept as stored, several times smaller, and decompressed on
    each rebuild.
    """
    data = bytes(data)
    if data[5] == Compression.NONE:
        return rebuild, data[HEADER_SIZE:]
    return _rebuild_stored, data


def _rebuild_stored(data: bytes) -> list[Generation]:
    return rebuild(_payload(data))


def _payload(data: bytes) -> bytes:
    return _decompress(data[HEADER_SIZE:], data[5])


def rebuild(payload: bytes, *, fast_json: bool = HAVE_ORJSON) -> list[Generation]:
    """New generations from a payload that :func:`decode` has already read successfully.

    The same bytes give the same parsed values, so the allow-list and type checks would pass
    again: only the parse (a deep copy in C: every call gets its own objects) and the model
    construction remain, about half a full decode of a chat generation.
    """
    return [_rebuild_one(item) for item in loads_json(payload, fast=fast_json)]


def _rebuild_one(item: dict[str, Any]) -> Generation:
    # _generation_from_plain without its checks (the payload passed them).
    cls = _GENERATION_CLASSES[item["_"]]
    info = item.get("generation_info")
    text = item.get("text")
    fields = item.get("message")
    if fields is None:
        return _construct(cls, {"text": text, "generation_info": info})
    message = _construct(MESSAGE_CLASSES[item["m"]], fields)
    if text is None:
        content = fields["content"]
        text = content if type(content) is str else message.text
    return _construct(cls, {"text": text, "generation_info": info, "message": message})


# --- generations <-> plain JSON-able data ------------------------------------------------------


def to_plain(generations: Iterable[Generation]) -> list[dict[str, Any]]:
    """Plain dicts and lists describing ``generations`` (the JSON payload, before dumping)."""
    value: object = generations
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise EncodeError("the value to cache must be a list of Generation objects")
    return [_generation_to_plain(generation) for generation in generations]


def _generation_to_plain(generation: Generation) -> dict[str, Any]:
    kind = _GENERATION_NAMES.get(type(generation))
    if kind is None:
        raise EncodeError(f"{type(generation).__qualname__} is not a cacheable Generation class")
    item: dict[str, Any] = {"_": kind}
    if generation.generation_info is not None:
        item["generation_info"] = generation.generation_info
    message: BaseMessage | None = getattr(generation, "message", None)
    if message is None:
        item["text"] = generation.text
        return item
    message_kind = _MESSAGE_NAMES.get(type(message))
    if message_kind is None:
        raise EncodeError(f"{type(message).__qualname__} is not a cacheable message class")
    fields = dict(message.__dict__)
    del fields["type"]
    if message.__pydantic_extra__:
        fields.update(message.__pydantic_extra__)
    item["m"] = message_kind
    item["message"] = fields
    # A chat generation's text is derived from its message; store it only if it differs.
    if generation.text != message.text:
        item["text"] = generation.text
    return item


def from_plain(items: Any) -> list[Generation]:
    """Rebuild generations from :func:`to_plain` output, instantiating only allow-listed classes."""
    if type(items) is not list:
        raise DecodeError("the payload is not a list of generations")
    try:
        return [_generation_from_plain(item) for item in items]
    except DecodeError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        reason = f"the payload does not describe generations ({type(exc).__name__})"
        raise DecodeError(reason) from exc


def _generation_from_plain(item: Any) -> Generation:
    if type(item) is not dict:
        raise DecodeError("a generation is not an object")
    cls = _GENERATION_CLASSES.get(item.get("_"))  # type: ignore[arg-type]
    if cls is None:
        raise DecodeError("unknown generation class")
    info = item.get("generation_info")
    if info is not None and type(info) is not dict:
        raise DecodeError("generation_info is not an object")
    text = item.get("text")
    if text is not None and type(text) is not str:
        raise DecodeError("generation text is not a string")
    if not issubclass(cls, ChatGeneration):
        if text is None:
            raise DecodeError("generation text is missing")
        return _construct(cls, {"text": text, "generation_info": info})
    message_cls = MESSAGE_CLASSES.get(item.get("m"))  # type: ignore[arg-type]
    if message_cls is None:
        raise DecodeError("unknown message class")
    if cls is ChatGenerationChunk and not issubclass(message_cls, BaseMessageChunk):
        raise DecodeError("a ChatGenerationChunk needs a message chunk")
    fields = _checked_message_fields(item.get("message"), message_cls)
    message = _construct(message_cls, fields)
    if text is None:
        content = fields["content"]
        text = content if type(content) is str else message.text
    return _construct(cls, {"text": text, "generation_info": info, "message": message})


class _Absent:
    """The type of :data:`_ABSENT`, accepted for every typed field (a field may be left out)."""


_ABSENT: Final = _Absent()
"""A field the stored message does not have (``None`` is a value some fields may hold)."""
_ALWAYS_ABSENT: Final = itertools.repeat(_ABSENT)

# Per message class, :data:`_FIELD_CHECKS` laid out for one pass in C: the typed fields' names,
# the types each accepts (absent included), and the fields that must be lists of objects.
_FIELD_PLANS: Final = {
    cls: (
        tuple(name for name, _, _ in checks),
        tuple((*types, _Absent) for _, types, _ in checks),
        tuple(name for name, _, list_of_dicts in checks if list_of_dicts),
    )
    for cls, checks in _FIELD_CHECKS.items()
}


def _checked_message_fields(value: object, message_cls: type[BaseMessage]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DecodeError("a message is not an object")
    fields: dict[str, Any] = value
    if "content" not in fields:
        raise DecodeError("a message has no content")
    # The common case, only the class's own field names, is one set comparison; anything else
    # (extra fields a provider added) is checked name by name.
    if not fields.keys() <= _MESSAGE_KEYS[message_cls] and (
        "type" in fields or not all(type(key) is str and key[:1].isalpha() for key in fields)
    ):
        raise DecodeError("a message has an invalid field name")
    names, accepted, lists_of_dicts = _FIELD_PLANS[message_cls]
    # Every typed field's type in one pass in C (a decoded hit's fields are all right); the
    # per-field walk runs only when one is wrong, to name the first wrong field.
    if not all(map(isinstance, map(fields.get, names, _ALWAYS_ABSENT), accepted)):
        name = _first_wrong_field(fields, message_cls)
        raise DecodeError(f"message field {name!r} has the wrong type")
    for name in lists_of_dicts:
        entries = fields.get(name)
        # An empty list (most messages' tool calls) skips building the generator.
        if entries and any(type(entry) is not dict for entry in entries):
            raise DecodeError(f"message field {name!r} has the wrong type")
    content = fields["content"]
    if type(content) is list and any(type(block) not in (str, dict) for block in content):
        raise DecodeError("message content blocks must be strings or objects")
    return fields


def _first_wrong_field(fields: dict[str, Any], message_cls: type[BaseMessage]) -> str:
    """The first typed field, in check order, whose value is wrong (one is)."""
    return next(
        name
        for name, types, list_of_dicts in _FIELD_CHECKS[message_cls]
        if name in fields
        and (
            not isinstance(fields[name], types)
            or (list_of_dicts and any(type(entry) is not dict for entry in fields[name]))
        )
    )


# --- rebuilding without validation ------------------------------------------------------------
#
# Stored values were validated when the objects were first built and are stored as they came
# out, so they are rebuilt without re-validation: what ``BaseModel.model_construct`` does, minus
# its generic per-field loop (2x faster; a chat hit builds two objects). An import-time check
# falls back to ``model_construct`` itself should a pydantic release construct models otherwise.

_M = TypeVar("_M", bound=BaseModel)


class _ConstructionPlan(NamedTuple):
    """What building one allow-listed model class needs, looked up once instead of per call."""

    fields: Mapping[str, FieldInfo]
    known: frozenset[str]
    allows_extra: bool
    # Defaults that are immutable scalars (every message's ``type``, which is never stored) can
    # be shared by every instance; pydantic's ``get_default`` would hand out the same object
    # after a per-call type check. Defaults with a factory or a mutable value are not here.
    constants: Mapping[str, object]


_IMMUTABLE_DEFAULT_TYPES: Final = (str, int, float, bool, bytes, type(None))


def _constant_defaults(fields: Mapping[str, FieldInfo]) -> dict[str, object]:
    return {
        name: info.default
        for name, info in fields.items()
        if info.default_factory is None and type(info.default) in _IMMUTABLE_DEFAULT_TYPES
    }


_PLANS: Final[dict[type[BaseModel], _ConstructionPlan]] = {
    cls: _ConstructionPlan(
        cls.model_fields,
        frozenset(cls.model_fields),
        cls.model_config.get("extra") == "allow",
        _constant_defaults(cls.model_fields),
    )
    for cls in (*_GENERATION_NAMES, *_MESSAGE_NAMES)
}


# Bypasses pydantic's validating ``__setattr__``; bound once, it is read per call as one global.
_set_attribute: Final = object.__setattr__


def _model_construct(cls: type[_M], values: dict[str, Any]) -> _M:
    return cls.model_construct(**values)


def _direct_construct(cls: type[_M], values: dict[str, Any]) -> _M:
    """``cls.model_construct(**values)``; ``values`` (a dict the decoder just built) is adopted."""
    fields, known, allows_extra, constants = _PLANS[cls]
    extra: dict[str, Any] | None = {} if allows_extra else None
    if values.keys() <= known:
        state = values
    else:
        state = {}
        for name, value in values.items():
            if name in known:
                state[name] = value
            elif extra is not None:
                extra[name] = value
    fields_set = set(state)
    if len(fields_set) != len(known):
        for name in known - fields_set:
            if name in constants:
                state[name] = constants[name]
            else:
                state[name] = fields[name].get_default(call_default_factory=True)
    model = cls.__new__(cls)
    _set_attribute(model, "__dict__", state)
    _set_attribute(model, "__pydantic_fields_set__", fields_set)
    _set_attribute(model, "__pydantic_extra__", extra)
    _set_attribute(model, "__pydantic_private__", None)
    return model


def _same_construction() -> bool:
    samples: list[tuple[type[BaseModel], dict[str, Any]]] = [
        (AIMessage, {"content": "x", "id": "1", "tool_calls": [], "vendor_field": {"a": 1}}),
        (ToolMessage, {"content": "x", "tool_call_id": "c"}),
        (Generation, {"text": "t", "generation_info": None}),
        (ChatGeneration, {"text": "t", "generation_info": {}, "message": AIMessage("t")}),
    ]
    attributes = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__")
    for cls, values in samples:
        if cls.__private_attributes__ or cls.__pydantic_post_init__:
            return False
        reference = _model_construct(cls, dict(values))
        direct = _direct_construct(cls, dict(values))
        if any(getattr(reference, a) != getattr(direct, a) for a in attributes):
            return False
        if reference.__pydantic_private__ is not None or reference != direct:
            return False
    return True


_construct: Final = _direct_construct if _same_construction() else _model_construct


# --- JSON -------------------------------------------------------------------------------------


def dumps_json(value: Any, *, fast: bool = HAVE_ORJSON) -> bytes:
    """``value`` as compact UTF-8 JSON; :class:`EncodeError` if JSON cannot hold it exactly."""
    try:
        require_exact_json(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise EncodeError(f"the value cannot be stored as JSON exactly: {exc}") from exc
    if fast and HAVE_ORJSON:
        try:
            return orjson.dumps(value)
        except TypeError:
            pass  # lone surrogates: the standard library escapes them
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: ASCII JSON carries them as \u escapes, which decode to the same string,
        # except a high surrogate followed by a low one: its two escapes read back as one
        # character, so such a string cannot be stored exactly.
        if _has_surrogate_pair(value):
            raise EncodeError(
                "the value cannot be stored as JSON exactly: a string holds a surrogate pair"
            ) from None
        return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode(
            "ascii"
        )


def loads_json(data: bytes, *, fast: bool = HAVE_ORJSON) -> Any:
    """Parse JSON written by :func:`dumps_json`; :class:`DecodeError` if it is not JSON."""
    if fast and HAVE_ORJSON:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # orjson rejects lone-surrogate escapes, which the standard library accepts
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise DecodeError("the payload is not valid JSON") from exc


MIN_JSON_INT: Final = -(2**63)
MAX_JSON_INT: Final = 2**64 - 1
"""The integers both JSON libraries read back exactly (orjson's signed and unsigned 64 bits)."""
_SCALARS: Final = frozenset({str, bool, type(None)})


def require_exact_json(value: Any) -> None:
    """Raise ``TypeError``/``ValueError`` unless both JSON libraries carry ``value`` exactly.

    One walk over the value, on the write path only (a hit never pays for it). The reasons name
    types and limits, never content.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is dict:
            if not all(type(key) is str for key in item):
                raise TypeError("dict keys must be strings")
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        else:
            _require_exact_number(item)


_SURROGATE_PAIR: Final = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def _has_surrogate_pair(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is str:
            if _SURROGATE_PAIR.search(item):
                return True
        elif type(item) is dict:
            stack.extend(item)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return False


def _require_exact_number(item: object) -> None:
    if type(item) is int:
        if not MIN_JSON_INT <= item <= MAX_JSON_INT:
            raise ValueError("an integer is outside -2**63 .. 2**64-1")
    elif type(item) is float:
        if not math.isfinite(item):
            raise ValueError("a float is NaN or infinite")
    else:
        raise TypeError(f"{type(item).__qualname__} is not a JSON type")


# --- compression ------------------------------------------------------------------------------


def _compress(payload: bytes, codec: Compression) -> bytes:
    if codec is Compression.ZSTD:
        if not HAVE_ZSTD:
            raise EncodeError("zstd compression needs the 'zstandard' package")
        compressor = getattr(_local, "compressor", None)
        if compressor is None:
            compressor = _local.compressor = zstandard.ZstdCompressor(
                level=ZSTD_LEVEL, write_checksum=True
            )
        result: bytes = compressor.compress(payload)
        return result
    return zlib.compress(payload, ZLIB_LEVEL)


def _decompress(payload: bytes, codec: int) -> bytes:
    if codec == Compression.NONE:
        return payload
    if codec == Compression.ZSTD:
        return _zstd_decompress(payload)
    if codec == Compression.ZLIB:
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(payload, MAX_DECODED_SIZE)
        except zlib.error as exc:
            raise DecodeError("the zlib payload is corrupt") from exc
        if inflater.unconsumed_tail or not inflater.eof:
            raise DecodeError("the zlib payload is corrupt or too large")
        return data
    raise DecodeError(f"unknown compression {codec}")


def _zstd_decompress(payload: bytes) -> bytes:
    if not HAVE_ZSTD:
        raise DecodeError("the value is zstd-compressed: reading it needs the 'zstandard' package")
    try:
        if zstandard.frame_content_size(payload) > MAX_DECODED_SIZE:
            raise DecodeError("the zstd payload claims to be too large")
        decompressor = getattr(_local, "decompressor", None)
        if decompressor is None:
            decompressor = _local.decompressor = zstandard.ZstdDecompressor()
        result: bytes = decompressor.decompress(payload, max_output_size=MAX_DECODED_SIZE)
    except zstandard.ZstdError as exc:
        raise DecodeError("the zstd payload is corrupt") from exc
    return result
