"""``--rate-limit 60/m``: space requests evenly, before they are sent.

Each ``acquire`` reserves the next free slot (one every ``period / count`` seconds) and
sleeps until it. No burst at the start: 60/m means one request a second, which keeps under
per-minute and per-second limits alike. The state is a monotonic timestamp, not tied to
an event loop, so one limiter spans every ``asyncio.run`` of a run (aiolimiter's bucket is
bound to the loop that first used it, and the engine starts one loop per batch of probes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from conformance.wire._units import parse_rate


class RateLimiter:
    def __init__(
        self,
        count: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if count < 1 or period <= 0:
            raise ValueError(f"a rate needs count >= 1 and period > 0, got {count}/{period}s")
        self.count = count
        self.period = period
        self.interval = period / count
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self.waited_s = 0.0  # total time requests spent waiting for their slot

    @classmethod
    def parse(cls, text: str) -> RateLimiter:
        """From ``60/m``-style text; ``ConfigError`` naming --rate-limit otherwise."""
        return cls(*parse_rate(text))

    def describe(self) -> str:
        return f"{self.count} per {self.period:g}s (one every {self.interval:g}s)"

    async def acquire(self) -> None:
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self.waited_s += delay
            await self._sleep(delay)
