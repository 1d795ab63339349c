"""The smallest correct bridge from the driver's ``execute_async`` to an asyncio future.

This is the async floor the project's cache is compared with: one future, two callbacks,
``call_soon_threadsafe``; nothing else.
"""

from __future__ import annotations

import asyncio
from typing import Any


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def execute_aio(
    session: Any, statement: Any, parameters: Any, profile: str | object
) -> asyncio.Future[Any]:
    """Send ``statement`` and return a future resolved on the running loop with the first page."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    response = session.execute_async(statement, parameters, execution_profile=profile)
    response.add_callbacks(
        lambda rows: loop.call_soon_threadsafe(_set_result, future, rows),
        lambda error: loop.call_soon_threadsafe(_set_exception, future, error),
    )
    return future
