"""Answer a token that its run quota refused lately again from memory, at almost no cost.

A refused client that keeps submitting would otherwise cost a token lookup, a body validation,
a thread and two quota queries per request, taken from readers. Each process remembers, by a
hash of the credential, the refusals that hold for a while (a full minute's window holds until
its oldest run leaves it; a full queue, for the short Retry-After its refusal gives) and answers
them again before any of that.
Nothing is remembered for a credential that was never verified and refused.
"""

import hashlib
import math
import time
from collections.abc import Callable

from fastapi import Request

from app.benchmarks.service import QuotaRefused
from app.core.bounds import REFUSALS_REMEMBERED


class RecentRefusals:
    """Refusals by credential hash, each until the moment it stops being certain."""

    def __init__(
        self, capacity: int = REFUSALS_REMEMBERED, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.clock = clock
        self._until: dict[str, tuple[float, QuotaRefused]] = {}

    @staticmethod
    def _key(authorization: str) -> str:
        return hashlib.sha256(authorization.encode()).hexdigest()

    def check(self, authorization: str | None) -> None:
        """Raise the remembered refusal again, its Retry-After counting down, while it holds."""
        if not authorization:
            return
        key = self._key(authorization)
        found = self._until.get(key)
        if found is None:
            return
        until, refusal = found
        left = until - self.clock()
        if left <= 0:
            del self._until[key]
            return
        raise QuotaRefused(
            refusal.title,
            refusal.detail,
            retry_after=max(1, math.ceil(left)),
            holds_for=left,
        )

    def remember(self, authorization: str | None, refusal: QuotaRefused) -> None:
        """Keep a verified credential's refusal for as long as it is certain to hold."""
        if not authorization or refusal.holds_for <= 0:
            return
        now = self.clock()
        if len(self._until) >= self.capacity:
            for key in [k for k, (until, _) in self._until.items() if until <= now]:
                del self._until[key]
            while len(self._until) >= self.capacity:  # all still hold: forget the oldest
                del self._until[next(iter(self._until))]
        self._until[self._key(authorization)] = (now + refusal.holds_for, refusal)


# One per process; the event loop is its only user (the route and its dependency are async).
REFUSALS = RecentRefusals()


async def answer_refused_lately(request: Request) -> None:
    """Refuse at once a credential whose last submission was refused and still would be."""
    REFUSALS.check(request.headers.get("authorization"))
