"""What the chat and the text-completion wrappers share: pacing, cache resolution, rebinding.

Pacing sleeps only where the caller is: ``time.sleep`` in the sync path, ``asyncio.sleep`` in
the async one, and only when ``replay`` asks for recorded pacing.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

from langchain_core.caches import BaseCache
from langchain_core.globals import get_llm_cache
from langchain_core.runnables import (
    Runnable,
    RunnableBinding,
    RunnableParallel,
    RunnableSequence,
    RunnableWithFallbacks,
)
from langchain_core.runnables.passthrough import RunnableAssign

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator

    from langchain_core.outputs import Generation

    from cassandra_llm_cache.streaming._lease import Lease

_T = TypeVar("_T")

_ACCEPTS_RUN_MANAGER: dict[Callable[..., Any], bool] = {}


def accepts_run_manager(method: Callable[..., Any]) -> bool:
    """Whether a model's ``_generate``/``_agenerate`` takes ``run_manager`` (LangChain checks)."""
    function = getattr(method, "__func__", method)
    known = _ACCEPTS_RUN_MANAGER.get(function)
    if known is None:
        known = "run_manager" in inspect.signature(method).parameters
        _ACCEPTS_RUN_MANAGER[function] = known
    return known


def run_manager_arg(method: Callable[..., Any], run_manager: object) -> dict[str, Any]:
    """``{"run_manager": ...}`` for a ``_generate``/``_agenerate`` that takes one, else nothing."""
    return {"run_manager": run_manager} if accepts_run_manager(method) else {}


def check_cache(cache: object) -> BaseCache | None:
    if cache is None or isinstance(cache, BaseCache):
        return cache
    kind = type(cache).__name__
    msg = f"cache must be a LangChain BaseCache or None (the global cache), not {kind}"
    raise TypeError(msg)


def resolve_cache(cache: BaseCache | None) -> BaseCache | None:
    """The wrapper's cache, else the global one (``set_llm_cache``), looked up at call time."""
    return cache if cache is not None else get_llm_cache()


def usable(found: object) -> TypeGuard[list[Generation]]:
    """A lookup result LangChain would serve: a non-empty list."""
    return isinstance(found, list) and len(found) > 0


def find(
    cache: BaseCache | None, prompt: str, llm_string: str, lease: Lease | None
) -> list[Generation] | None:
    """The cached answer: one lookup, then (cluster mode) the lease leader's answer, if any."""
    if cache is None:
        return None
    found = cache.lookup(prompt, llm_string)
    if usable(found):
        return found
    if lease is not None:
        found = lease.acquire_or_wait(functools.partial(cache.lookup, prompt, llm_string))
        if usable(found):
            return found
        if lease.held:
            # A leader may have stored the answer and let go between our lookup and our lease.
            found = cache.lookup(prompt, llm_string)
            if usable(found):
                lease.release()
                return found
    return None


async def afind(
    cache: BaseCache | None, prompt: str, llm_string: str, lease: Lease | None
) -> list[Generation] | None:
    """Async :func:`find`."""
    if cache is None:
        return None
    found = await cache.alookup(prompt, llm_string)
    if usable(found):
        return found
    if lease is not None:
        found = await lease.aacquire_or_wait(functools.partial(cache.alookup, prompt, llm_string))
        if usable(found):
            return found
        if lease.held:
            found = await cache.alookup(prompt, llm_string)
            if usable(found):
                await lease.arelease()
                return found
    return None


def paced(chunks: Iterable[tuple[float, _T]], scale: float) -> Iterator[_T]:
    for delay, chunk in chunks:
        if scale > 0 and delay > 0:
            time.sleep(delay * scale)
        yield chunk


async def apaced(chunks: Iterable[tuple[float, _T]], scale: float) -> AsyncIterator[_T]:
    for delay, chunk in chunks:
        if scale > 0 and delay > 0:
            await asyncio.sleep(delay * scale)
        yield chunk


def swap_model(  # noqa: PLR0911 - one return per kind of runnable
    runnable: Runnable[Any, Any], old: object, new: Runnable[Any, Any]
) -> tuple[Any, int]:
    """``runnable`` with every use of ``old`` replaced by ``new``, and how many were replaced.

    Follows what ``bind_tools`` and ``with_structured_output`` build: bindings, sequences,
    parallel maps, ``assign`` and fallbacks.
    """
    if runnable is old:
        return new, 1
    if isinstance(runnable, RunnableBinding):
        bound, count = swap_model(runnable.bound, old, new)
        return (runnable.model_copy(update={"bound": bound}), count) if count else (runnable, 0)
    if isinstance(runnable, RunnableSequence):
        swapped = [swap_model(step, old, new) for step in runnable.steps]
        count = sum(n for _, n in swapped)
        if not count:
            return runnable, 0
        return RunnableSequence(*(step for step, _ in swapped), name=runnable.name), count
    if isinstance(runnable, RunnableParallel):
        pairs = {key: swap_model(step, old, new) for key, step in runnable.steps__.items()}
        count = sum(n for _, n in pairs.values())
        if not count:
            return runnable, 0
        return RunnableParallel({key: step for key, (step, _) in pairs.items()}), count
    if isinstance(runnable, RunnableAssign):
        mapper, count = swap_model(runnable.mapper, old, new)
        return (RunnableAssign(mapper), count) if count else (runnable, 0)
    if isinstance(runnable, RunnableWithFallbacks):
        main, count = swap_model(runnable.runnable, old, new)
        fallbacks = [swap_model(step, old, new) for step in runnable.fallbacks]
        count += sum(n for _, n in fallbacks)
        if not count:
            return runnable, 0
        update = {"runnable": main, "fallbacks": [step for step, _ in fallbacks]}
        return runnable.model_copy(update=update), count
    return runnable, 0
