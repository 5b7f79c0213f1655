"""The dispatcher's two database threads, each with its own connection: claims never wait
behind a flush of outcomes, and the event loop never waits for either. A lost database
surfaces as ``DatabaseDown``, with the thread's broken connection dropped so that the next
call reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import DatabaseError, connection

from core.database import close_broken_connection, is_unavailable

T = TypeVar("T")


class DatabaseDown(Exception):
    """The database could not be reached."""


def _guarded(fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    try:
        return fn(**kwargs)
    except DatabaseError as exc:
        if not is_unavailable(exc):
            raise
        close_broken_connection()
        raise DatabaseDown(type(exc).__name__) from exc


class DatabaseThreads:
    def __init__(self) -> None:
        self._claims = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-claims")
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-writes")

    @staticmethod
    async def _on(executor: ThreadPoolExecutor, fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, _guarded, fn, kwargs)

    async def claim(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """On the claims thread: the gate, claims, the slot's renewal."""
        return await self._on(self._claims, fn, kwargs)

    async def write(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """On the writes thread: outcomes and the breaker's tally."""
        return await self._on(self._writes, fn, kwargs)

    def claim_now(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """On the claims thread, from outside the event loop (taking and freeing the slot)."""
        return self._claims.submit(_guarded, fn, kwargs).result()

    def close(self) -> None:
        # Close each thread's own connection (``connection`` resolves per thread).
        for executor in (self._claims, self._writes):
            executor.submit(lambda: connection.close()).result()
            executor.shutdown(wait=True)
