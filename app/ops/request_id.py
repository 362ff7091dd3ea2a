"""Request ids: accept a sane incoming `X-Request-ID`, else make one; bind and echo it.

A pure ASGI middleware (no BaseHTTPMiddleware, no Request object) so it costs one header scan,
one context-variable bind and one header append per request.
"""

import itertools
import os
import random
import re

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
# Letters, digits and a few separators, at most 128 characters: nothing that could forge a log
# line or a header.
_SANE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")


def sanitize(value: bytes | None) -> str | None:
    """Return the incoming id if it is safe to log and echo, else None."""
    if value and _SANE.fullmatch(value):
        return value.decode("ascii")
    return None


class _RequestIds:
    """Ids unique across processes and restarts: a random prefix per process, then a count.

    An id correlates log lines; it guards nothing, so it need not be unpredictable. A count
    costs a third of drawing 128 random bits per request. A forked child draws its own prefix.
    """

    def __init__(self) -> None:
        self.restart()
        os.register_at_fork(after_in_child=self.restart)

    def restart(self) -> None:
        self.prefix = f"{random.getrandbits(64):016x}"
        self.count = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.count):016x}"


new_request_id = _RequestIds()


class RequestIdMiddleware:
    """Bind `request_id` for structlog, store it in `request.state`, echo it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope["headers"]:
            if key == HEADER:
                incoming = value
                break
        request_id = sanitize(incoming) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        raw = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Nothing inside sets this header (a test holds it), so it is appended, not
                # filtered out first: that scan cost more than the rest of this layer.
                message["headers"] = [*message.get("headers", ()), (HEADER, raw)]
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
