"""Bulkheads: a few threads per process for work that may wait on a lock, not the readers' pool.

A sync endpoint runs in AnyIO's shared pool of 40 threads per process. Work that waits on a lock
(a token's run submissions, serialised so that a burst cannot pass its quota together) would
hold those threads and their database connections while it waits, and readers would queue
behind it. A bulkhead gives such work its own small limiter: the rest of a burst waits on the
event loop, where waiting costs nothing.
"""

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")


class Bulkhead:
    """At most `slots` calls at once per process; one limiter per event loop (tests run several)."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )

    def _limiter(self) -> CapacityLimiter:
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = CapacityLimiter(self.slots)
        return limiter

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `function` in a worker thread once one of the bulkhead's slots is free."""
        call = functools.partial(function, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter())
