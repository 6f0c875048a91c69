"""The in-process channel layer of the embedded mode, made safe to call from other threads."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from channels.layers import InMemoryChannelLayer

T = TypeVar("T")


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    """Keeps every operation on the event loop that serves the WebSocket consumers.

    The embedded Celery worker runs tasks in threads, each `async_to_sync` call on a loop of
    its own; `asyncio.Queue` and the group table are not thread-safe, so a message put from
    there could sit unseen until the server loop woke for something else. Calls from a foreign
    loop are handed to the home loop (the loop of the first receiver) instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._home_loop: asyncio.AbstractEventLoop | None = None

    async def _on_home_loop(self, operation: Callable[[], Awaitable[T]]) -> T:
        current = asyncio.get_running_loop()
        home = self._home_loop
        if home is None or home is current or home.is_closed() or not home.is_running():
            return await operation()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(operation(), home))

    def _claim_home_loop(self) -> None:
        home = self._home_loop
        if home is None or home.is_closed() or not home.is_running():
            self._home_loop = asyncio.get_running_loop()

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._on_home_loop(lambda: InMemoryChannelLayer.send(self, channel, message))

    async def receive(self, channel: str) -> dict[str, Any]:
        self._claim_home_loop()
        return await self._on_home_loop(lambda: InMemoryChannelLayer.receive(self, channel))

    async def group_add(self, group: str, channel: str) -> None:
        self._claim_home_loop()
        await self._on_home_loop(lambda: InMemoryChannelLayer.group_add(self, group, channel))

    async def group_discard(self, group: str, channel: str) -> None:
        await self._on_home_loop(lambda: InMemoryChannelLayer.group_discard(self, group, channel))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._on_home_loop(lambda: InMemoryChannelLayer.group_send(self, group, message))
