"""Check every request's path, query and body against the generic bounds, in one place.

`InputLimitsMiddleware` reads the body (refusing more than `MAX_BODY_BYTES` as it streams in),
and checks JSON and form bodies, the path and the query string. It does not answer by itself:
it records the problem and hands the app an empty body, and the app raises the problem from a
dependency. That way the dashboard's handlers render it as a page, the API's as problem+json,
and an API write without a valid token gets its 401 first (`require_scope` raises the input
problem only after authenticating).
"""

from urllib.parse import parse_qsl

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import ProblemError
from app.core.limits import MAX_BODY_BYTES, InputError, MalformedJson, check_text, parse_json

PROBLEM_KEY = "ledger_input_problem"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _check_target(scope: Scope) -> ProblemError | None:
    if "\x00" in scope["path"]:
        return ProblemError(400, "Bad request", "The path contains a NUL character.")
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return ProblemError(400, "Bad request", "The query string contains a NUL character.")
    return None


def _too_large() -> ProblemError:
    return ProblemError(
        413, "Content too large", f"The request body exceeds {MAX_BODY_BYTES} bytes."
    )


def check_body(content_type: str, body: bytes) -> ProblemError | None:
    """Return the problem with a JSON or form body, or None when it is within bounds."""
    if not body:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    try:
        if media_type == "application/json" or media_type.endswith("+json"):
            parse_json(body)
        elif media_type == "application/x-www-form-urlencoded":
            text = body.decode("latin-1")
            for key, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
                check_text(key, "form field name")
                check_text(value, f"form field '{key[:40]}'")
        elif b"\x00" in body and media_type.startswith("multipart/"):
            raise InputError("The form contains a NUL character.")
    except MalformedJson as exc:
        return ProblemError(400, "Malformed body", str(exc))
    except InputError as exc:
        return ProblemError(422, "Invalid input", str(exc))
    return None


async def _read_body(scope: Scope, receive: Receive) -> tuple[bytes, bool]:
    """Read the whole body, stopping as soon as it passes the limit; return (body, too_large)."""
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return b"", True
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app sees an empty body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


class InputLimitsMiddleware:
    """Record the first input problem of a request in its state; replay a checked body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _check_target(scope)
        if scope["method"] not in SAFE_METHODS:
            body, too_large = await _read_body(scope, receive)
            if too_large:
                problem = problem or _too_large()
            elif problem is None:
                content_type = (_header(scope, b"content-type") or b"").decode("latin-1")
                problem = check_body(content_type, body)
            if problem is not None:
                # The app must not parse what was refused: no body, no content type.
                body = b""
                scope["headers"] = [
                    (k, v)
                    for k, v in scope["headers"]
                    if k not in (b"content-type", b"content-length")
                ]
            receive = _replay(body, receive)
        if problem is not None:
            scope.setdefault("state", {})[PROBLEM_KEY] = problem
        await self.app(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def is_api_write(request: Request) -> bool:
    """Return whether the request is a write to the JSON API (which authenticates first)."""
    return request.method not in SAFE_METHODS and request.url.path.startswith("/api/")


def raise_input_problem(request: Request) -> None:
    """Raise the problem the middleware found with this request, if any."""
    problem = request.scope.get("state", {}).get(PROBLEM_KEY)
    if problem is not None:
        raise problem


async def reject_invalid_input(request: Request) -> None:
    """App-wide dependency: refuse a request whose input broke a bound.

    API writes are left to `require_scope`, which authenticates before raising the problem.
    """
    if not is_api_write(request):
        raise_input_problem(request)
