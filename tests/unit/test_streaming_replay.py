"""Replaying a cached answer as chunks, recording a stream, and the wrappers' options (pure).

The property that matters: the chunks of a replay add up to the cached message - text, content
blocks, tool calls, usage and metadata - whichever way the text is cut.
"""

from __future__ import annotations

import functools
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk, message_chunk_to_message
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache import ConfigurationError
from cassandra_llm_cache.streaming import _options, _record, _replay
from cassandra_llm_cache.streaming._record import CACHE_MARK_KEY, RECORDING_KEY

USAGE = {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8}


def replayed(chunks_of, generation, **options):
    """The replay's chunks, taken all at once (the replay builds them one by one)."""
    return list(chunks_of(generation, **options))


def added(chunks) -> AIMessage:
    total = functools.reduce(operator.add, [chunk.message for _, chunk in chunks])
    assert isinstance(total, AIMessageChunk)
    return message_chunk_to_message(total)


# -- word groups and recorded boundaries -------------------------------------------------------


@given(st.text())
def test_word_groups_join_back_exactly(text):
    pieces = _replay.word_groups(text)
    assert "".join(pieces) == text
    assert pieces
    assert all(len(piece.split()) <= _replay.WORDS_PER_CHUNK for piece in pieces)


def test_word_groups_cut_every_few_words():
    assert _replay.word_groups("  one two three four five  ") == [
        "  one two three",
        " four five  ",
    ]


@given(st.lists(st.text(max_size=8), min_size=1, max_size=20))
def test_recorded_sizes_cut_the_text_where_the_stream_was_cut(parts):
    text = "".join(parts)
    assert _replay.split_by_sizes(text, [len(p) for p in parts]) == parts
    assert _replay.split_by_sizes(text + "x", [len(p) for p in parts]) is None


def test_a_recorder_counts_characters_and_milliseconds():
    ticks = iter([10.0, 10.25, 10.25, 10.5])
    recorder = _record.ChunkRecorder(clock=lambda: next(ticks))
    for piece in ("ab", "", "cde"):
        recorder.add(piece)
    recording = recorder.recording()
    assert recording.sizes == (2, 0, 3)
    assert recording.times_ms == (250, 0, 250)
    assert recording.gaps_ms == (0, 250)
    info = _record.with_recording({"finish_reason": "stop"}, recording)
    assert info[RECORDING_KEY] == {"v": 1, "t": [250, 0, 250], "s": [2, 0, 3]}
    assert _record.read(info) == recording
    assert _record.without_recording(info) == {"finish_reason": "stop"}


def test_content_blocks_are_recorded_without_sizes():
    recorder = _record.ChunkRecorder()
    recorder.add("text")
    recorder.add([{"type": "text", "text": "x"}])
    assert recorder.recording().sizes is None


@pytest.mark.parametrize(
    "plain",
    [
        None,
        "nope",
        {"v": 2, "t": [1]},
        {"v": 1},
        {"v": 1, "t": []},
        {"v": 1, "t": [1, -1]},
        {"v": 1, "t": [1.5]},
        {"v": 1, "t": [True]},
        {"v": 1, "t": [1, 2], "s": [3]},
        {"v": 1, "t": [1], "s": "3"},
    ],
)
def test_a_recording_that_is_not_one_is_ignored(plain):
    assert _record.read({RECORDING_KEY: plain}) is None


def test_stripping_keeps_what_was_there_and_marks_hits():
    assert _record.without_recording(None) is None
    assert _record.without_recording({RECORDING_KEY: {}}) is None
    assert _record.without_recording({"a": 1}) == {"a": 1}
    assert _record.marked({RECORDING_KEY: {}, "a": 1}) == {"a": 1, CACHE_MARK_KEY: "hit"}


# -- chat replays add up to the message ----------------------------------------------------------


@given(
    st.lists(st.text(max_size=6), min_size=1, max_size=12),
    st.booleans(),
)
def test_a_replay_adds_up_to_the_cached_message(parts, recorded):
    message = AIMessage(
        content="".join(parts),
        id="run-1",
        usage_metadata=USAGE,
        response_metadata={"finish_reason": "stop", "model_name": "m"},
        additional_kwargs={"refusal": None},
        tool_calls=[{"name": "add", "args": {"a": 1, "b": [2, "é"]}, "id": "call_1"}],
    )
    info = {"finish_reason": "stop"}
    if recorded:
        info = _record.with_recording(
            info, _record.Recording(tuple(len(p) for p in parts), tuple(range(len(parts))))
        )
    chunks = replayed(
        _replay.chat_chunks, ChatGeneration(message=message, generation_info=info), hit=True
    )
    if recorded:
        assert [chunk.message.content for _, chunk in chunks] == parts
    assert added(chunks) == message
    # The mark rides in the last chunk's generation_info (LangChain copies it into the metadata).
    last = chunks[-1][1]
    assert last.generation_info == {"finish_reason": "stop", CACHE_MARK_KEY: "hit"}
    assert all(chunk.generation_info is None for _, chunk in chunks[:-1])


def test_content_blocks_replay_one_block_per_chunk():
    blocks = [
        {"type": "text", "text": "Hello", "index": 0},
        {"type": "tool_use", "id": "t1", "name": "add", "input": {}, "index": 1},
        "plain",
    ]
    message = AIMessage(content=blocks, usage_metadata=USAGE)
    chunks = replayed(_replay.chat_chunks, ChatGeneration(message=message), hit=False)
    assert [chunk.message.content for _, chunk in chunks] == [[block] for block in blocks]
    assert added(chunks) == message


def test_empty_and_legacy_answers_replay_too():
    empty = replayed(_replay.chat_chunks, ChatGeneration(message=AIMessage(content="")), hit=False)
    assert [chunk.message.content for _, chunk in empty] == [""]
    legacy = replayed(_replay.chat_chunks, Generation(text="from an old table"), hit=False)
    assert added(legacy).content == "from an old table"


def test_invalid_tool_calls_come_back_as_invalid_tool_calls():
    message = AIMessage(
        content="",
        invalid_tool_calls=[{"name": "f", "args": "not json", "id": "c2", "error": None}],
    )
    total = added(replayed(_replay.chat_chunks, ChatGeneration(message=message), hit=False))
    assert total.invalid_tool_calls == message.invalid_tool_calls
    assert total.tool_calls == []


def test_delays_follow_the_recording_or_spread_its_total():
    recording = _record.Recording(sizes=(3, 3, 3), times_ms=(500, 100, 200))
    info = _record.with_recording(None, recording)
    exact = replayed(
        _replay.chat_chunks,
        ChatGeneration(message=AIMessage(content="abcdefghi"), generation_info=info),
        hit=False,
    )
    assert [delay for delay, _ in exact] == [0.0, 0.1, 0.2]  # no wait before the first chunk
    # Boundaries that do not fit the text: word groups, paced by the recorded total.
    spread = replayed(
        _replay.chat_chunks,
        ChatGeneration(message=AIMessage(content="one two three four"), generation_info=info),
        hit=False,
    )
    assert [delay for delay, _ in spread] == [0.0, pytest.approx(0.3)]
    unrecorded = replayed(
        _replay.chat_chunks, ChatGeneration(message=AIMessage(content="a b c d")), hit=False
    )
    assert all(delay == 0 for delay, _ in unrecorded)


def test_text_replays_add_up_and_carry_the_info_last():
    info = _record.with_recording(
        {"finish_reason": "stop"}, _record.Recording(sizes=(2, 3), times_ms=(1, 40))
    )
    chunks = replayed(_replay.text_chunks, Generation(text="hello", generation_info=info), hit=True)
    assert [chunk.text for _, chunk in chunks] == ["he", "llo"]
    assert [delay for delay, _ in chunks] == [0.0, 0.04]
    assert chunks[-1][1].generation_info == {"finish_reason": "stop", CACHE_MARK_KEY: "hit"}
    assert chunks[0][1].generation_info is None


# -- options -------------------------------------------------------------------------------------


def test_options_are_parsed_and_bad_ones_refused():
    assert _options.parse_replay("instant") == 0.0
    assert _options.parse_replay("recorded") == 1.0
    assert _options.parse_replay(0.25) == 0.25
    for bad in ("fast", -1, float("nan"), float("inf"), True, None):
        with pytest.raises(ConfigurationError, match="replay must be"):
            _options.parse_replay(bad)
    assert _options.parse_coalesce("process") == "process"
    assert _options.parse_coalesce("cluster") == "cluster"
    assert _options.parse_coalesce(None) is None
    assert _options.parse_coalesce("none") is None
    with pytest.raises(ConfigurationError, match="coalesce must be"):
        _options.parse_coalesce("threads")
    assert _options.parse_lease_seconds(30) == 30.0
    for bad in (0, 0.5, 10**6, "60", False):
        with pytest.raises(ConfigurationError, match="lease_seconds"):
            _options.parse_lease_seconds(bad)
