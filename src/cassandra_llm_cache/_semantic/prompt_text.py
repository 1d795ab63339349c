"""What of a prompt is compared by meaning, and what must match exactly (pure).

For a plain LLM the prompt is its text: all of it is embedded. For a chat model langchain-core's
cache key is the JSON of the whole message list; embedding that would mostly embed its
boilerplate and make every conversation look alike. So only the text of the last human message
is embedded (and checked by the guard); everything else - the system prompt, the earlier turns,
the non-text parts and the fields of the last message - is the *context*, which must be
identical for a hit: its digest is part of the vector search filter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

_HUMAN: Final = "HumanMessage"


@dataclass(frozen=True)
class SemanticPrompt:
    """``text`` is compared by meaning; ``context`` must match exactly."""

    text: str
    context: str = ""


def split_prompt(prompt: str) -> SemanticPrompt:
    """The meaning-compared text and the exact context of a cache prompt."""
    if not prompt.startswith('[{"lc"'):
        return SemanticPrompt(prompt)
    try:
        messages = json.loads(prompt)
    except ValueError:
        return SemanticPrompt(prompt)
    if not isinstance(messages, list) or not messages or not all(_is_message(m) for m in messages):
        return SemanticPrompt(prompt)
    last = messages[-1]
    if last["id"][-1] != _HUMAN:
        # The conversation does not end with a question (e.g. a tool result): exact match only.
        return SemanticPrompt("", prompt)
    text, rest = _split_content(last["kwargs"]["content"])
    kwargs = {**last["kwargs"], "content": rest}
    context = json.dumps([*messages[:-1], {**last, "kwargs": kwargs}], sort_keys=True)
    return SemanticPrompt(text, context)


def _is_message(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), list)
        and bool(item["id"])
        and isinstance(item.get("kwargs"), dict)
        and "content" in item["kwargs"]
    )


def _split_content(content: Any) -> tuple[str, Any]:
    """(the text, what is left): a string is all text; of a block list, the text blocks."""
    if isinstance(content, str):
        return content, ""
    if not isinstance(content, list):
        return "", content
    texts: list[str] = []
    rest: list[Any] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text" and len(block) == 2:  # noqa: PLR2004 - {"type", "text"} only
            texts.append(str(block.get("text", "")))
        else:
            rest.append(block)
    return "\n".join(texts), rest
