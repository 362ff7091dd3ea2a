"""Answer a token that its run quota refused lately again from memory, at almost no cost.

A refused client that keeps submitting would otherwise cost a token lookup, a body validation,
a thread and two quota queries per request, taken from readers. Each process remembers, by a
hash of the credential, the refusals that hold for a while (a full minute's window holds until
its oldest run leaves it; a full queue, for the short Retry-After its refusal gives) and answers
them again before any of that (`RefusedLatelyMiddleware`, listed in `app.registry`).
Nothing is remembered for a credential that was never verified and refused.
"""

import hashlib
import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.benchmarks.service import QuotaRefused
from app.core.bounds import REFUSALS_REMEMBERED
from app.core.errors import problem


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


# One per process; the event loop is its only user (the middleware and the async route).
REFUSALS = RecentRefusals()

SUBMISSIONS_PATH = "/api/v1/benchmark-runs"


class RefusedLatelyMiddleware:
    """Refuse at once a submission whose credential was refused lately and still would be.

    It sits inside the security headers and outside everything else Starlette builds: the
    answer skips routing, the body, the token and the database, and costs a dictionary lookup.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        submission = (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == SUBMISSIONS_PATH
        )
        if submission:
            credential = (v for k, v in scope["headers"] if k == b"authorization")
            authorization = next(credential, b"").decode("latin-1") or None
            try:
                REFUSALS.check(authorization)
            except QuotaRefused as refused:
                answer = problem(
                    refused.status, refused.title, refused.detail, headers=refused.headers
                )
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
