"""The value codec: full fidelity for chat outputs, a versioned header, compression, refusals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

from cassandra_llm_cache._values import codec as _codec
from cassandra_llm_cache._values.codec import (
    COMPRESSION_THRESHOLD,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    Compression,
    DecodeError,
    EncodeError,
    decode,
    encode,
)

BACKENDS = [
    pytest.param(Compression.ZSTD, True, id="zstd-orjson"),
    pytest.param(Compression.ZLIB, False, id="zlib-stdlib"),
    pytest.param(Compression.NONE, True, id="none-orjson"),
]


def rich_ai_message(text: str = "The weather in Paris is 21°C ☀️.") -> AIMessage:
    return AIMessage(
        content=[
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
        id="msg-42",
        name="assistant",
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris", "days": 3}, "id": "call_1"}],
        invalid_tool_calls=[
            {"name": "broken", "args": "{not json", "id": "call_2", "error": "bad json"}
        ],
        usage_metadata={
            "input_tokens": 12,
            "output_tokens": 30,
            "total_tokens": 42,
            "input_token_details": {"cache_read": 4},
            "output_token_details": {"reasoning": 7},
        },
        response_metadata={"model_name": "m-1", "finish_reason": "tool_calls", "logprobs": None},
        additional_kwargs={"refusal": None, "nested": {"a": [1, 2.5, True, None]}},
    )


def assert_same(decoded: list[Generation], original: list[Generation]) -> None:
    assert decoded == original
    for got, want in zip(decoded, original, strict=True):
        assert type(got) is type(want)
        assert got.text == want.text
        if isinstance(want, ChatGeneration):
            assert isinstance(got, ChatGeneration)
            assert type(got.message) is type(want.message)
            assert got.message.model_dump() == want.message.model_dump()


@pytest.mark.parametrize(("compression", "fast_json"), BACKENDS)
def test_chat_generation_keeps_every_field(compression, fast_json):
    original = [
        ChatGeneration(message=rich_ai_message(), generation_info={"finish_reason": "stop"}),
        ChatGeneration(message=AIMessage(content="second of n=3")),
        ChatGeneration(message=AIMessage(content="third", id="x"), generation_info={"i": 3}),
    ]
    data = encode(original, compression=compression, fast_json=fast_json)
    assert_same(decode(data, fast_json=fast_json), original)


def test_every_allowed_message_and_generation_class_round_trips():
    original = [
        Generation(text="plain", generation_info={"logprobs": {"top": [0.1]}}),
        GenerationChunk(text="chunk"),
        ChatGenerationChunk(
            message=AIMessageChunk(
                content="par",
                tool_call_chunks=[{"name": "f", "args": '{"a"', "id": "c", "index": 0}],
                chunk_position="last",
            )
        ),
        ChatGeneration(message=HumanMessage("h", id="1")),
        ChatGeneration(message=SystemMessage("s")),
        ChatGeneration(message=ChatMessage(content="c", role="critic")),
        ChatGeneration(
            message=ToolMessage(
                content="t", tool_call_id="c1", artifact={"rows": [1]}, status="error"
            )
        ),
        ChatGeneration(message=FunctionMessage(content="f", name="fn")),
    ]
    assert_same(decode(encode(original)), original)


def test_extra_message_fields_survive():
    message = AIMessage(content="x", provider_specific={"citations": ["a", "b"]})
    original = [ChatGeneration(message=message)]
    decoded = decode(encode(original))
    assert decoded == original
    assert decoded[0].message.provider_specific == {"citations": ["a", "b"]}  # type: ignore[attr-defined]


def test_a_chat_generation_whose_text_differs_from_its_message_keeps_its_text():
    generation = ChatGeneration(message=AIMessage(content=[{"text": "legacy block"}]))
    decoded = decode(encode([generation]))[0]
    assert decoded.text == generation.text
    assert decoded == generation


def test_header_carries_magic_version_and_compression():
    small = encode([Generation(text="x")])
    assert small[: len(MAGIC)] == MAGIC
    assert small[len(MAGIC)] == FORMAT_VERSION
    assert small[len(MAGIC) + 1] == Compression.NONE  # below the threshold: not compressed
    big = encode([Generation(text="word " * COMPRESSION_THRESHOLD)], compression=Compression.ZSTD)
    assert big[len(MAGIC) + 1] == Compression.ZSTD
    assert len(big) < COMPRESSION_THRESHOLD  # repetitive text compresses well
    zlib_big = encode(
        [Generation(text="word " * COMPRESSION_THRESHOLD)], compression=Compression.ZLIB
    )
    assert zlib_big[len(MAGIC) + 1] == Compression.ZLIB
    # Just below the threshold stays plain, just above it is compressed.
    envelope = len(encode([Generation(text="")], compression=Compression.NONE)) - len(MAGIC) - 2
    at_limit = "a" * (COMPRESSION_THRESHOLD - envelope)
    assert encode([Generation(text=at_limit)])[len(MAGIC) + 1] == Compression.NONE
    over = encode([Generation(text=at_limit + "a")], compression=Compression.ZSTD)
    assert over[len(MAGIC) + 1] == Compression.ZSTD


@pytest.mark.parametrize("writer_fast", [True, False])
@pytest.mark.parametrize("reader_fast", [True, False])
def test_orjson_and_stdlib_read_each_others_output(writer_fast, reader_fast):
    original = [
        ChatGeneration(message=rich_ai_message('naïve \u2028 text \x00 with controls\n"q"')),
        Generation(
            text="lone \udc80 surrogate",
            generation_info={"max": 2**64 - 1, "min": -(2**63), "k\ud800": 1, "z": -0.0},
        ),
    ]
    data = encode(original, fast_json=writer_fast)
    assert decode(data, fast_json=reader_fast) == original


@pytest.mark.parametrize(
    "bad_info",
    [
        {"when": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)},
        {"nested": {1: "non-string key"}},
        {"obj": object()},
        {"set": {1, 2}},
    ],
    ids=["datetime", "int-key", "object", "set"],
)
@pytest.mark.parametrize("fast_json", [True, False])
def test_values_json_cannot_hold_are_refused(bad_info, fast_json):
    with pytest.raises(EncodeError) as caught:
        encode([Generation(text="t", generation_info=bad_info)], fast_json=fast_json)
    assert "t" not in str(caught.value).split()  # the message names the reason, not content


def test_dataclasses_and_str_subclasses_are_not_silently_converted():
    @dataclasses.dataclass
    class Point:
        x: int

    with pytest.raises(EncodeError):
        encode([Generation(text="t", generation_info={"p": Point(1)})])


@pytest.mark.parametrize(
    "bad",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        2**64,
        -(2**63) - 1,
        -9223372036854775809,  # the example hypothesis found: it came back as a float
        2**80,
        (1, 2),
        enum.IntEnum("Level", "LOW")(1),
        enum.Enum("Tone", {"CALM": "calm"})("calm"),
        "\ud83e\udd8a",  # a surrogate pair as two code points: JSON reads it back as one
    ],
    ids=[
        "nan",
        "inf",
        "-inf",
        "2**64",
        "-2**63-1",
        "found",
        "2**80",
        "tuple",
        "intenum",
        "enum",
        "surrogate-pair",
    ],
)
@pytest.mark.parametrize("fast_json", [True, False])
def test_values_one_json_library_would_alter_are_refused_on_both_paths(bad, fast_json):
    """orjson writes NaN as null and reads big integers as floats: such values are not cached."""
    for info in ({"x": bad}, {"nested": [{"x": bad}]}):
        with pytest.raises(EncodeError, match="exactly"):
            encode([Generation(text="t", generation_info=info)], fast_json=fast_json)


EXACT_EXAMPLES = [
    {"": -(2**63)},
    {"": 2**63},
    {"": 2**64 - 1},
    {"zero": -0.0, "pos": 0.0},
    {"tiny": 5e-324, "subnormal": 2.2250738585072014e-309, "huge": 1.7976931348623157e308},
    {"third": 1 / 3, "big": 1.2345678901234568e29, "int_like": 1.0, "neg": -1e-300},
    {"": "", "\u2028": "\u2029", "nul": "\x00", "bom": "\ufeff", "astral": "\U0001f98a"},
    {"lone": "\ud800", "low_then_high": "\udd8a\ud83e", "k\udfff": ["\udc80"]},
    {"bools": [True, False, None, 0, 1, 0.0, 1.0]},
]


def typed(value):
    """``value`` with every scalar tagged by its type (and floats by their bits: -0.0 != 0.0)."""
    if type(value) is dict:
        return {key: typed(child) for key, child in value.items()}
    if type(value) is list:
        return [typed(child) for child in value]
    if type(value) is float:
        return ("float", value.hex())
    return (type(value).__name__, value)


@pytest.mark.parametrize("info", EXACT_EXAMPLES)
@pytest.mark.parametrize("writer_fast", [True, False])
@pytest.mark.parametrize("reader_fast", [True, False])
def test_edge_values_come_back_with_the_same_types_and_bits(info, writer_fast, reader_fast):
    original = [
        Generation(text="t", generation_info=info),
        ChatGeneration(message=AIMessage(content="m", response_metadata=info)),
    ]
    decoded = decode(encode(original, fast_json=writer_fast), fast_json=reader_fast)
    assert typed(decoded[0].generation_info) == typed(info)
    assert typed(decoded[1].message.response_metadata) == typed(info)


def test_classes_outside_the_allow_list_are_refused():
    class MyGeneration(Generation):
        pass

    class MyMessage(BaseMessage):
        type: str = "mine"

    with pytest.raises(EncodeError, match="MyGeneration"):
        encode([MyGeneration(text="x")])
    with pytest.raises(EncodeError, match="MyMessage"):
        encode([ChatGeneration(message=MyMessage(content="x"))])
    with pytest.raises(EncodeError):
        encode("not a list")  # type: ignore[arg-type]


def _forge(payload: object, *, version: int = FORMAT_VERSION) -> bytes:
    return MAGIC + bytes((version, Compression.NONE)) + json.dumps(payload).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b'[{"_": "Generation", "text": "no header"}]',
        MAGIC,
        _forge({"_": "Generation"}),
        _forge([{"_": "Generation"}]),  # no text
        _forge([{"_": "Generation", "text": 5}]),
        _forge([{"_": "os.system", "text": "x"}]),
        _forge([{"_": "ChatGeneration", "m": "RemoveMessage", "message": {"content": "x"}}]),
        _forge([{"_": "ChatGeneration", "m": "AIMessage", "message": {"content": 5}}]),
        _forge([{"_": "ChatGeneration", "m": "AIMessage", "message": {"content": "x", "_x": 1}}]),
        _forge([{"_": "ChatGeneration", "m": "AIMessage", "message": {"tool_calls": []}}]),
        _forge([{"_": "ChatGeneration", "m": "AIMessage", "message": "x"}]),
        _forge([{"_": "ChatGenerationChunk", "m": "AIMessage", "message": {"content": "x"}}]),
        _forge([{"_": "ChatGeneration", "m": "AIMessage", "message": {"content": [5]}}]),
        _forge([{"_": "Generation", "text": "x"}], version=FORMAT_VERSION + 1),
        MAGIC + bytes((FORMAT_VERSION, 9)) + b"[]",
        MAGIC + bytes((FORMAT_VERSION, Compression.ZSTD)) + b"not zstd",
        MAGIC + bytes((FORMAT_VERSION, Compression.ZLIB)) + b"not zlib",
        MAGIC + bytes((FORMAT_VERSION, Compression.NONE)) + b"[{",
    ],
)
def test_foreign_or_corrupt_values_are_decode_errors(data):
    with pytest.raises(DecodeError):
        decode(data)


def test_a_corrupted_compressed_value_is_detected():
    data = bytearray(encode([Generation(text="abc " * 2000)], compression=Compression.ZSTD))
    data[HEADER_SIZE + 20] ^= 0xFF
    with pytest.raises(DecodeError):
        decode(bytes(data))


def test_decode_error_messages_carry_no_content():
    secret = "my-secret-prompt-text"
    with pytest.raises(DecodeError) as caught:
        decode(_forge([{"_": "Generation", "text": 5, "generation_info": {"k": secret}}]))
    assert secret not in str(caught.value)


def test_decoding_a_non_blob_is_a_decode_error():
    with pytest.raises(DecodeError):
        decode(None)  # type: ignore[arg-type]
    with pytest.raises(DecodeError):
        decode("text")  # type: ignore[arg-type]


def test_default_backends_are_the_fast_ones_when_installed():
    assert _codec.HAVE_ORJSON
    assert _codec.HAVE_ZSTD
    assert _codec.DEFAULT_COMPRESSION is Compression.ZSTD


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (AIMessage, {"content": "x"}),  # every other field from its default (factories too)
        (AIMessage, {"content": [{"type": "text", "text": "y"}], "vendor": [1], "id": "i"}),
        (AIMessageChunk, {"content": "x", "tool_call_chunks": [], "chunk_position": "last"}),
        (HumanMessage, {"content": "x", "name": "n"}),
        (ChatMessage, {"content": "x", "role": "r"}),
        (ToolMessage, {"content": "x", "tool_call_id": "c", "artifact": [1]}),
        (Generation, {"text": "t"}),
        (GenerationChunk, {"text": "t", "generation_info": {"a": 1}}),
        (ChatGeneration, {"text": "t", "message": AIMessage("t")}),
    ],
)
def test_direct_construction_equals_model_construct(cls, values):
    assert _codec._construct is _codec._direct_construct  # the fast path is in use
    reference = cls.model_construct(**values)
    direct = _codec._direct_construct(cls, dict(values))
    assert direct == reference
    assert direct.__dict__ == reference.__dict__
    assert direct.__pydantic_fields_set__ == reference.__pydantic_fields_set__
    assert direct.__pydantic_extra__ == reference.__pydantic_extra__
    assert direct.model_dump() == reference.model_dump()
    if "additional_kwargs" in cls.model_fields:
        other = _codec._direct_construct(cls, dict(values))
        assert other.additional_kwargs is not direct.additional_kwargs  # fresh default dicts


def test_shared_defaults_are_immutable_scalars_and_cover_the_unstored_type():
    # Every decoded instance shares these values, so none may be a mutable object.
    for cls, plan in _codec._PLANS.items():
        for name, value in plan.constants.items():
            assert cls.model_fields[name].default_factory is None
            assert value is cls.model_fields[name].default
            assert type(value) in (str, int, float, bool, bytes, type(None)), (cls, name)
    assert _codec._PLANS[AIMessage].constants["type"] == "ai"
    assert "tool_calls" not in _codec._PLANS[AIMessage].constants  # a factory: fresh per call
