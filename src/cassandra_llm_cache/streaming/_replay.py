"""Turning a cached generation back into a stream of chunks (pure: no I/O, no sleeping).

The chunks of a replay add up (``+``) to the cached answer: text and content blocks, tool calls
(as ``tool_call_chunks``), ``usage_metadata``, ``response_metadata`` and ``additional_kwargs``.
Text is cut where the original stream was cut when the entry recorded it (:mod:`._record`), else
into groups of a few words; content blocks are replayed one block per chunk. Everything that is
not content rides on the last chunk, so that merging never doubles it (LangChain concatenates
string values of ``response_metadata`` and adds usage counts when chunks are summed).

Each chunk comes with the delay to wait before it, from the recording, unscaled (seconds). The
last chunk is not marked ``chunk_position="last"``: LangChain ends the stream with its own empty
last chunk, as it does after the model's chunks, so a replay is cut exactly like the original.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Final

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

from cassandra_llm_cache.streaming import _record

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from langchain_core.messages import BaseMessage

WORDS_PER_CHUNK: Final = 3
_WORD: Final = re.compile(r"\s*\S+")

Piece = str | list[str | dict[str, Any]]


def word_groups(text: str, words: int = WORDS_PER_CHUNK) -> list[str]:
    """``text`` in pieces of ``words`` words (with their leading spaces); they join back exactly."""
    tokens = _WORD.findall(text)
    if not tokens:
        return [text]
    pieces = ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    pieces[-1] += text[sum(map(len, tokens)) :]  # trailing whitespace
    return pieces


def split_by_sizes(text: str, sizes: Sequence[int]) -> list[str] | None:
    """``text`` cut into pieces of the recorded ``sizes``, or ``None`` if they do not add up."""
    if sum(sizes) != len(text):
        return None
    pieces = []
    start = 0
    for size in sizes:
        pieces.append(text[start : start + size])
        start += size
    return pieces


def _pieces(content: str | list[Any], recording: _record.Recording | None) -> list[Piece]:
    if isinstance(content, str):
        if recording is not None and recording.sizes is not None:
            exact = split_by_sizes(content, recording.sizes)
            if exact is not None:
                return list(exact)
        return list(word_groups(content))
    if not content:
        return [[]]
    return [[block] for block in content]


def _delays(count: int, recording: _record.Recording | None) -> list[float]:
    """Delay before each of ``count`` pieces: as recorded, or the recorded total spread evenly."""
    if recording is None or count == 0:
        return [0.0] * count
    gaps = recording.gaps_ms
    if len(gaps) == count - 1:
        return [0.0, *(gap / 1000 for gap in gaps)]
    if count == 1:
        return [0.0]
    even = sum(gaps) / 1000 / (count - 1)
    return [0.0] + [even] * (count - 1)


def _planned(
    generation: Generation, content: str | list[Any], *, hit: bool
) -> tuple[dict[str, Any] | None, list[tuple[float, Piece]]]:
    """What the last chunk carries as ``generation_info``, and each piece after its delay.

    The part both kinds of replay share: only how a piece becomes a chunk differs.
    """
    recording = _record.read(generation.generation_info)
    pieces = _pieces(content, recording)
    planned = list(zip(_delays(len(pieces), recording), pieces, strict=True))
    return _record.served(generation.generation_info, hit=hit), planned


def text_chunks(generation: Generation, *, hit: bool) -> Iterator[tuple[float, GenerationChunk]]:
    """A text-completion generation as chunks (each after its delay), built as they are taken."""
    info, planned = _planned(generation, generation.text, hit=hit)
    last = len(planned) - 1
    for i, (delay, piece) in enumerate(planned):
        yield delay, GenerationChunk(text=str(piece), generation_info=info if i == last else None)


def chat_chunks(
    generation: Generation, *, hit: bool
) -> Iterator[tuple[float, ChatGenerationChunk]]:
    """A chat generation as message chunks whose sum is its message (each after its delay).

    Built one at a time as the caller takes them: a chunk is a pydantic model (~15 us each), so
    building a long answer's chunks up front would delay the first one by milliseconds.
    """
    message: BaseMessage = (
        generation.message
        if isinstance(generation, ChatGeneration)
        else AIMessage(content=generation.text)
    )
    info, planned = _planned(generation, message.content, hit=hit)
    last = len(planned) - 1
    for i, (delay, piece) in enumerate(planned):
        if i == last:
            yield (
                delay,
                ChatGenerationChunk(message=_last_chunk(message, piece), generation_info=info),
            )
        else:
            yield delay, ChatGenerationChunk(message=AIMessageChunk(content=piece, id=message.id))


def _last_chunk(message: BaseMessage, piece: Piece) -> AIMessageChunk:
    fields: dict[str, Any] = {
        "content": piece,
        "id": message.id,
        "additional_kwargs": dict(message.additional_kwargs),
        "response_metadata": dict(message.response_metadata),
    }
    if isinstance(message, AIMessage):
        calls = [
            tool_call_chunk(
                name=call["name"], args=json.dumps(call["args"]), id=call.get("id"), index=i
            )
            for i, call in enumerate(message.tool_calls)
        ]
        offset = len(calls)
        calls += [
            tool_call_chunk(
                name=call.get("name"), args=call.get("args"), id=call.get("id"), index=offset + i
            )
            for i, call in enumerate(message.invalid_tool_calls)
        ]
        fields["tool_call_chunks"] = calls
        if message.usage_metadata is not None:
            fields["usage_metadata"] = message.usage_metadata
    return AIMessageChunk(**fields)
