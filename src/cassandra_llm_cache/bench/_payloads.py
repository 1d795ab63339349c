"""The identical inputs every system is measured with: chat generations, prompts, an llm_string.

Pure: builds values, does no I/O. Sizes are the size of the generation serialized the way LangChain
serializes it (``langchain_core.load.dumps``), which is also the size stored by the raw floor.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from langchain_core.load import dumps
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration

_WORDS = [
    "the",
    "cache",
    "answers",
    "from",
    "cassandra",
    "when",
    "the",
    "same",
    "prompt",
    "comes",
    "back",
    "with",
    "the",
    "same",
    "model",
    "and",
    "parameters",
    "so",
    "the",
    "expensive",
    "call",
    "is",
    "skipped",
    "and",
    "the",
    "stored",
    "generation",
    "returns",
    "with",
    "its",
    "usage",
    "metadata",
    "tool",
    "calls",
    "and",
    "response",
    "metadata",
    "intact",
    "while",
    "misses",
    "go",
    "to",
    "the",
    "model",
    "and",
    "are",
    "written",
    "with",
    "a",
    "time",
    "to",
    "live",
    "that",
    "keeps",
    "the",
    "table",
    "small",
    "and",
    "fresh",
    "for",
    "every",
    "tenant",
]

# A realistic chat-model llm_string: serialized model kwargs, then the call's sorted kwargs.
LLM_STRING = (
    json.dumps(
        {
            "id": ["langchain", "chat_models", "openai", "ChatOpenAI"],
            "kwargs": {
                "model_name": "gpt-4o-mini",
                "temperature": 0.0,
                "max_tokens": 1024,
                "openai_api_key": {"id": ["OPENAI_API_KEY"], "lc": 1, "type": "secret"},
            },
            "lc": 1,
            "name": "ChatOpenAI",
            "type": "constructor",
        },
        sort_keys=True,
    )
    + "---[('stop', None)]"
)


_MIN_PAYLOAD_BYTES = 1024


@dataclass(frozen=True)
class Payload:
    """A benchmark payload: its label, the generations a cache stores, their serialized bytes."""

    label: str
    generations: list[ChatGeneration]
    serialized: bytes

    @property
    def size(self) -> int:
        return len(self.serialized)


def _text(length: int, seed: int) -> str:
    rng = random.Random(seed)  # noqa: S311 - deterministic filler text, not security
    words: list[str] = []
    total = 0
    while total < length:
        word = rng.choice(_WORDS)
        words.append(word)
        total += len(word) + 1
    return " ".join(words)[:length]


def _generation(content: str) -> ChatGeneration:
    message = AIMessage(
        content=content,
        id="run-5b1c0f8e-4a4e-4d8e-9c57-2f0b2d7c9a11",
        usage_metadata={"input_tokens": 412, "output_tokens": 377, "total_tokens": 789},
        response_metadata={
            "model_name": "gpt-4o-mini-2024-07-18",
            "finish_reason": "stop",
            "system_fingerprint": "fp_0ba0d124f1",
        },
    )
    return ChatGeneration(message=message, generation_info={"finish_reason": "stop"})


def chat_payload(target_bytes: int, label: str | None = None) -> Payload:
    """A one-generation chat result whose LangChain serialization is about ``target_bytes``."""
    if target_bytes < _MIN_PAYLOAD_BYTES:
        raise ValueError("payloads smaller than 1 KB are not meaningful here")
    overhead = len(dumps(_generation("")))
    # The content appears twice in the serialization (generation text and message content).
    content = _text(max(1, (target_bytes - overhead) // 2), seed=target_bytes)
    generation = _generation(content)
    serialized = dumps(generation).encode()
    return Payload(
        label=label or f"{round(target_bytes / 1024)} KB",
        generations=[generation],
        serialized=serialized,
    )


def prompt(index: int, tag: str = "", kind: str = "Question") -> str:
    """The prompt of entry ``index``: shaped like a serialized chat input (about 300 bytes).

    ``tag`` separates key spaces (one per payload); ``kind`` separates stored entries
    ("Question"), never-stored ones ("Unseen") and ones written by update measurements ("Fresh").
    """
    return (
        '[{"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", '
        f'"HumanMessage"], "kwargs": {{"content": "{kind} {tag} number {index}: summarise the '
        'main points of the attached report in three sentences, please.", "type": "human"}}]'
    )


def missing_prompt(index: int, tag: str = "") -> str:
    """A prompt that is never stored (a guaranteed miss)."""
    return prompt(index, tag, kind="Unseen")


def new_prompt(index: int, tag: str = "") -> str:
    """A prompt written by an update measurement (distinct from the filled entries)."""
    return prompt(index, tag, kind="Fresh")


_KEY_BYTES = 32


def raw_key(index: int, space: int = 0) -> bytes:
    """The raw floor's partition key (32 bytes, like a SHA-256) of entry ``index`` in ``space``.

    Spaces 0-127 hold filled entries; ``raw_new_key`` uses 128-255 for writes.
    """
    return space.to_bytes(1, "big") + index.to_bytes(_KEY_BYTES - 1, "big")


def raw_new_key(index: int, space: int = 0) -> bytes:
    """A raw key for writes, disjoint from every filled ``raw_key``."""
    return raw_key(index, space | 0x80)
