"""Cache keys: hashing of prompts and model strings, and how langchain-core builds them (pure).

Strings are encoded as UTF-8 with ``surrogatepass``: identical to strict UTF-8 for every valid
string, and still deterministic (and injective) for strings carrying lone surrogates, which strict
UTF-8 refuses. The legacy cache crashed on such strings; here they hash like any other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.language_models import BaseLanguageModel
    from langchain_core.runnables import RunnableBinding


def utf8(text: str) -> bytes:
    """``text`` as UTF-8; lone surrogates are kept (``surrogatepass``) instead of raising."""
    return text.encode("utf-8", "surrogatepass")


def sha256_key(text: str) -> bytes:
    """The 32-byte SHA-256 digest of ``text``: how prompts and llm_strings are keyed."""
    return hashlib.sha256(utf8(text)).digest()


def md5_key(text: str) -> bytes:
    """The 16-byte MD5 digest of ``text``: the key of md5-keyed (migrated legacy) tables."""
    return hashlib.md5(utf8(text), usedforsecurity=False).digest()


def md5_hex(text: str) -> str:
    """The MD5 hex digest the legacy (cassio) layout keys rows with."""
    return hashlib.md5(utf8(text), usedforsecurity=False).hexdigest()


def langchain_cache_key(
    model_input: Any,
    llm: BaseLanguageModel[Any] | RunnableBinding[Any, Any],
    stop: Sequence[str] | None = None,
    **invoke_kwargs: Any,
) -> tuple[str, str]:
    """The ``(prompt, llm_string)`` pair langchain-core looks the cache up with.

    ``model_input`` is what was passed to ``llm.invoke(...)``: a string, a list of messages (or
    message-like tuples/dicts) or a ``PromptValue``. ``stop`` and ``invoke_kwargs`` are the extra
    arguments of that call; a ``RunnableBinding`` (``llm.bind(...)``) contributes its bound
    arguments. For a chat model the prompt is the serialized message list with message ids
    cleared, exactly as ``BaseChatModel`` builds it; for a plain LLM it is the prompt string.
    """
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.language_models.llms import BaseLLM
    from langchain_core.runnables import RunnableBinding as Binding

    kwargs = dict(invoke_kwargs)
    model: Any = llm
    while isinstance(model, Binding):
        kwargs = {**model.kwargs, **kwargs}
        model = model.bound
    stop_list = list(stop) if stop is not None else kwargs.pop("stop", None)
    kwargs.pop("stop", None)
    prompt_value = _to_prompt_value(model_input)
    if isinstance(model, BaseChatModel):
        from langchain_core.load import dumps

        messages = [
            message.model_copy(update={"id": None}) if message.id is not None else message
            for message in prompt_value.to_messages()
        ]
        # Private to langchain-core, but it *is* the key: re-deriving it would drift.
        return dumps(messages), model._get_llm_string(stop=stop_list, **kwargs)  # noqa: SLF001
    if isinstance(model, BaseLLM):
        # langchain-core keys plain LLMs by `str(sorted(params.items()))` where params is the
        # model's dict (its identifying params plus `_type`) with the stop list added.
        # (`_dict_for_compat` is `dict()` without its deprecation warning, langchain-core >= 1.4.2.)
        as_dict = getattr(model, "_dict_for_compat", None) or model.dict
        params = dict(as_dict())
        params["stop"] = stop_list
        return prompt_value.to_string(), str(sorted(params.items()))
    msg = f"expected a LangChain LLM or chat model, got {type(model).__name__}"
    raise TypeError(msg)


def _to_prompt_value(model_input: Any) -> Any:
    from langchain_core.messages import convert_to_messages
    from langchain_core.prompt_values import ChatPromptValue, PromptValue, StringPromptValue

    if isinstance(model_input, PromptValue):
        return model_input
    if isinstance(model_input, str):
        return StringPromptValue(text=model_input)
    if isinstance(model_input, Sequence):
        return ChatPromptValue(messages=convert_to_messages(model_input))
    msg = f"a prompt must be a str, a list of messages or a PromptValue, got {type(model_input)}"
    raise TypeError(msg)


def legacy_key_vals(prompt: str, llm_string: str) -> str:
    """The ``key_vals`` column of the legacy layout for this prompt and model string."""
    return legacy_key_vals_of(md5_key(llm_string), md5_key(prompt))


def legacy_key_vals_of(llm_key: bytes, prompt_key: bytes) -> str:
    """The ``key_vals`` column of the legacy layout for two md5 digests."""
    return json.dumps([llm_key.hex(), prompt_key.hex()], separators=(",", ":"))
