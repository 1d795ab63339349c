"""Property tests of the value codec: every generation type round-trips; nothing else gets in.

Any unicode (lone surrogates included), empty strings, huge values; arbitrary bytes and forged
payloads decode to a clear :class:`DecodeError`, never to another exception or a foreign object.
"""

from __future__ import annotations

import json
import math
import re
import zlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

from cassandra_llm_cache._values import codec as _codec
from cassandra_llm_cache._values.codec import (
    MAGIC,
    Compression,
    DecodeError,
    EncodeError,
    decode,
    encode,
)

any_text = st.text(st.characters(exclude_categories=()), max_size=40)
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**64), 2**65)
    | st.floats()
    | any_text
)
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=12,
)
json_object = st.dictionaries(any_text, json_value, max_size=4)
identifier = st.text(st.characters(exclude_categories=()), min_size=1, max_size=12)

text_block = st.builds(lambda text: {"type": "text", "text": text}, any_text)
image_block = st.builds(lambda url: {"type": "image", "url": url}, st.text(min_size=1, max_size=20))
content = any_text | st.lists(any_text | text_block | image_block, max_size=4)

tool_call = st.builds(
    lambda name, args, call_id: {"name": name, "args": args, "id": call_id, "type": "tool_call"},
    identifier,
    json_object,
    st.none() | identifier,
)
invalid_tool_call = st.builds(
    lambda name, args, call_id, error: {
        "name": name,
        "args": args,
        "id": call_id,
        "error": error,
        "type": "invalid_tool_call",
    },
    st.none() | identifier,
    st.none() | any_text,
    st.none() | identifier,
    st.none() | any_text,
)
usage = st.builds(
    lambda i, o: {"input_tokens": i, "output_tokens": o, "total_tokens": i + o},
    st.integers(0, 10**7),
    st.integers(0, 10**7),
)
ai_fields = st.fixed_dictionaries(
    {"content": content},
    optional={
        "tool_calls": st.lists(tool_call, max_size=3),
        "invalid_tool_calls": st.lists(invalid_tool_call, max_size=2),
        "usage_metadata": usage,
        "response_metadata": json_object,
        "additional_kwargs": json_object,
        "id": identifier,
        "name": identifier,
    },
)
ai_message = st.builds(lambda fields: AIMessage(**fields), ai_fields)
ai_chunk = st.builds(
    lambda text, call_id: AIMessageChunk(content=text, id=call_id),
    any_text,
    st.none() | identifier,
)
other_message = st.one_of(
    st.builds(HumanMessage, content=content),
    st.builds(SystemMessage, content=content),
    st.builds(lambda c, role: ChatMessage(content=c, role=role), content, identifier),
    st.builds(lambda c, cid: ToolMessage(content=c, tool_call_id=cid), content, identifier),
    st.builds(lambda c, name: FunctionMessage(content=c, name=name), content, identifier),
)
info = st.none() | json_object
generation = st.one_of(
    st.builds(lambda text, gi: Generation(text=text, generation_info=gi), any_text, info),
    st.builds(lambda text, gi: GenerationChunk(text=text, generation_info=gi), any_text, info),
    st.builds(
        lambda message, gi: ChatGeneration(message=message, generation_info=gi),
        ai_message | other_message,
        info,
    ),
    st.builds(
        lambda message, gi: ChatGenerationChunk(message=message, generation_info=gi),
        ai_chunk,
        info,
    ),
)
generations = st.lists(generation, max_size=4)
compression = st.sampled_from(list(Compression))


def assert_same(decoded, original):
    assert decoded == original
    for got, want in zip(decoded, original, strict=True):
        assert type(got) is type(want)
        assert got.text == want.text
        if isinstance(want, ChatGeneration):
            assert type(got.message) is type(want.message)
    assert typed(_codec.to_plain(decoded)) == typed(_codec.to_plain(original))


def typed(value):
    """``value`` with every scalar tagged by its type (floats by their bits: -0.0 is not 0.0)."""
    if type(value) is dict:
        return {typed(key): typed(child) for key, child in value.items()}
    if type(value) in (list, tuple):
        return [typed(child) for child in value]
    if type(value) is float:
        return ("float", value.hex())
    return (type(value).__name__, value)


SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def one_library_would_alter(value) -> bool:
    """The test's own oracle of what the codec must refuse (see the codec's docstring)."""
    if type(value) is dict:
        return any(
            one_library_would_alter(k) or one_library_would_alter(v) for k, v in value.items()
        )
    if type(value) is list:
        return any(one_library_would_alter(child) for child in value)
    if type(value) is int:
        return not -(2**63) <= value <= 2**64 - 1
    if type(value) is float:
        return not math.isfinite(value)
    if type(value) is str:
        return SURROGATE_PAIR.search(value) is not None
    return False


@example(
    values=[Generation(text="", generation_info={"": -9223372036854775809})],
    codec=Compression.NONE,
    fast_json=False,
)
@example(
    values=[Generation(text="", generation_info={"": float("nan"), "z": -0.0})],
    codec=Compression.NONE,
    fast_json=True,
)
@example(
    values=[ChatGeneration(message=AIMessage(content="\ud83e\udd8a"))],
    codec=Compression.ZSTD,
    fast_json=False,
)
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(generations, compression, st.booleans())
def test_every_generation_type_round_trips(values, codec, fast_json):
    """Stored exactly on both JSON paths, read back exactly by either, or refused at encode."""
    if one_library_would_alter(_codec.to_plain(values)):
        with pytest.raises(EncodeError, match="exactly"):
            encode(values, compression=codec, fast_json=fast_json)
        return
    data = encode(values, compression=codec, fast_json=fast_json)
    assert data.startswith(MAGIC)
    assert_same(decode(data, fast_json=fast_json), values)
    # Written with one JSON library, read with the other.
    assert_same(decode(data, fast_json=not fast_json), values)
    # What a near cache does with a value it has decoded once: kept, then rebuilt unchecked.
    rebuild, kept = _codec.kept_form(data)
    assert_same(rebuild(kept), values)


@given(any_text)
def test_any_text_including_lone_surrogates_round_trips(text):
    values = [Generation(text=text), ChatGeneration(message=AIMessage(content=text))]
    if SURROGATE_PAIR.search(text):
        with pytest.raises(EncodeError, match="surrogate pair"):
            encode(values)
        return
    assert decode(encode(values)) == values


def test_empty_list_and_empty_strings_round_trip():
    assert decode(encode([])) == []
    values = [Generation(text=""), ChatGeneration(message=AIMessage(content=""))]
    assert decode(encode(values)) == values


@pytest.mark.parametrize("codec", list(Compression))
def test_a_10_mb_value_round_trips_and_compresses(codec):
    text = ("The quick brown fox jumps over the lazy dog. \U0001f98a " * 200_000)[: 10 * 2**20]
    values = [ChatGeneration(message=AIMessage(content=text, id="run-1"))]
    data = encode(values, compression=codec)
    if codec is not Compression.NONE:
        assert len(data) < len(text) // 10
    assert decode(data) == values


@pytest.mark.parametrize("value", ["text", b"bytes", 42, None])
def test_a_non_list_value_is_refused_clearly(value):
    with pytest.raises(EncodeError, match="must be a list of Generation"):
        encode(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [[1], ["text"], [{"text": "x"}], [Generation(text="x"), None]])
def test_a_list_of_non_generations_is_refused_clearly(value):
    with pytest.raises(EncodeError, match="is not a cacheable Generation class"):
        encode(value)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_a_decode_error_or_a_list(data):
    try:
        decoded = decode(data)
    except DecodeError:
        return
    assert isinstance(decoded, list)


@given(st.binary(max_size=200), st.sampled_from([0, 1, 2, 3, 255]))
def test_arbitrary_payloads_behind_a_valid_header_never_escape_as_other_errors(payload, codec):
    data = MAGIC + bytes((_codec.FORMAT_VERSION, codec)) + payload
    try:
        decoded = decode(data)
    except DecodeError:
        return
    assert all(isinstance(item, Generation) for item in decoded)


def raw(plain) -> bytes:
    return MAGIC + bytes((_codec.FORMAT_VERSION, 0)) + json.dumps(plain).encode()


@given(json_value)
def test_arbitrary_json_payloads_decode_to_allowed_classes_or_fail_clearly(plain):
    try:
        decoded = decode(raw(plain))
    except DecodeError:
        return
    for item in decoded:
        assert type(item) in _codec.GENERATION_CLASSES.values()
        message = getattr(item, "message", None)
        assert message is None or type(message) in _codec.MESSAGE_CLASSES.values()


@pytest.mark.parametrize(
    "plain",
    [
        # langchain_core.load's constructor format: would import and build a class by path.
        [{"lc": 1, "type": "constructor", "id": ["os", "system"], "kwargs": {"command": "id"}}],
        [{"_": "subprocess.Popen", "text": "x"}],
        [{"_": "ChatGeneration", "m": "os.system", "message": {"content": "x"}}],
        [{"_": "ChatGeneration", "m": "BaseMessage", "message": {"content": "x"}}],
        [{"_": "Generation", "text": {"__class__": "os.system"}}],
        [{"_": "ChatGeneration", "m": "AIMessage", "message": {"content": "x", "__class__": 1}}],
        [{"_": "ChatGeneration", "m": "AIMessage", "message": {"content": "x", "type": "human"}}],
        [{"_": "ChatGeneration", "m": "AIMessage", "message": {"content": 3}}],
        [{"_": "ChatGeneration", "m": "AIMessage", "message": {"content": "x", "tool_calls": [1]}}],
        [{"_": "ChatGenerationChunk", "m": "AIMessage", "message": {"content": "x"}}],
        {"_": "Generation", "text": "not in a list"},
    ],
)
def test_crafted_values_outside_the_allow_list_are_decode_errors(plain):
    with pytest.raises(DecodeError):
        decode(raw(plain))


def test_foreign_versions_and_bombs_are_decode_errors():
    good = encode([Generation(text="x")])
    with pytest.raises(DecodeError, match="format version"):
        decode(good[:4] + bytes((99,)) + good[5:])
    with pytest.raises(DecodeError):
        decode(b'["legacy", "json"]')
    bomb = zlib.compress(b"[" + b" " * (_codec.MAX_DECODED_SIZE + 10) + b"]", 9)
    with pytest.raises(DecodeError):
        decode(MAGIC + bytes((_codec.FORMAT_VERSION, Compression.ZLIB)) + bomb)
