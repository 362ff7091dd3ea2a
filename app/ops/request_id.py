"""Request ids: accept a sane incoming `X-Request-ID`, else make one; bind and echo it.

A pure ASGI middleware (no BaseHTTPMiddleware, no Request object) so it costs one header scan,
one context-variable bind and one header append per request.
"""

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


def new_request_id() -> str:
    """Return a fresh random request id (128 bits; it correlates logs, it guards nothing).

    From the process's seeded generator, not the system's: no system call per request. Python
    reseeds it in a forked child, so workers forked from one parent draw different ids.
    """
    return f"{random.getrandbits(128):032x}"


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
