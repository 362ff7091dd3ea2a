"""The dashboard's parts of the app: static files, compression, headers, HTML errors.

`app.registry` lists them; `app.main` builds the app from that list.
"""

import os
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.assets import STATIC_DIR, static_version
from app.core.encoding import accepts_gzip, gzip_etag
from app.core.errors import (
    InvalidFilter,
    ProblemError,
    http_handler,
    problem_handler,
    validation_handler,
)
from app.dashboard import auth
from app.dashboard.templating import humanize, inline_css, query_with, render
from app.ops.health import database_unavailable

# Where a reader can go back to from an error below each part of the site.
SECTIONS = [  # (path prefix, its list, what to call it)
    ("/claims", "/claims", "the claims list"),
    ("/evidence", "/evidence", "the evidence list"),
    ("/timeline", "/timeline", "the timeline"),
    ("/runs", "/runs", "the simulations"),
    ("/capabilities", "/", "the overview"),
]

# Scripts only from this origin: no inline scripts, no eval. Chart data travels in
# <script type="application/json"> blocks, which are data and never executed. The one inline
# stylesheet is allowed by its hash.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src {styles}; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = _POLICY.format(styles="'self' 'unsafe-inline'")  # Swagger UI sets inline styles
IMMUTABLE = "public, max-age=31536000, immutable"
UNVERSIONED = "public, max-age=300"
API_PREFIXES = ("/api/", "/static/", "/metrics", "/healthz", "/readyz")


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(API_PREFIXES) and path not in ("/feed.atom",)


def _wants_page(request: Request) -> bool:
    """Answer a page's error as a page, unless the client asked for JSON and not for HTML."""
    accept = request.headers.get("accept", "")
    return _is_page(request) and ("text/html" in accept or "json" not in accept)


def error_page(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Render the error page: the site's navigation, what went wrong, and ways back."""
    path = request.url.path
    section = next((s for s in SECTIONS if path == s[0] or path.startswith(s[0] + "/")), None)
    context: dict[str, Any] = {
        "status": status,
        "title": title,
        "detail": detail,
        "section": section[1:] if section and section[1] != path else None,
        **extra,
    }
    response = render(request, "error.html", context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    if headers:
        response.headers.update(headers)
    return response


def _filter_choices(request: Request, exc: InvalidFilter) -> list[tuple[str, str]]:
    """Return each allowed value with the link that uses it instead of the bad one."""
    return [
        (value, request.url.path + query_with(request, **{exc.field: value, "cursor": None}))
        for value in exc.allowed
    ]


async def not_signed_in(request: Request, exc: auth.NotSignedIn) -> Response:
    """Send a reader who must sign in to the sign-in page, and back afterwards."""
    return auth.signin_redirect(request, exc)


async def csrf_failed(request: Request, exc: auth.CsrfError) -> Response:
    """Answer a form whose CSRF token did not match with a page saying how to retry."""
    return render(
        request,
        "error.html",
        {
            "status": 403,
            "title": "Form expired",
            "detail": "This form's security token did not match your session. "
            "Reload the page and submit again.",
        },
        status_code=403,
    )


async def problem_page(request: Request, exc: ProblemError) -> Response:
    """Answer a problem as a page on the site, as problem+json on the API."""
    if _is_page(request) and isinstance(exc, InvalidFilter):
        # A page's filter is a link a reader followed: a bad request, with the way out.
        return error_page(
            request,
            400,
            "No such filter value",
            f"There is no {humanize(exc.field)} “{exc.value}”. Choose one of the values "
            "below, or clear the filter.",
            choices=_filter_choices(request, exc),
            without=request.url.path + query_with(request, **{exc.field: None, "cursor": None}),
        )
    if _is_page(request) and exc.title == "Invalid cursor":
        return error_page(
            request,
            exc.status,
            "This link has expired or was altered",
            exc.detail,
            without=request.url.path + query_with(request, cursor=None),
        )
    if _is_page(request):
        return error_page(request, exc.status, exc.title, exc.detail, headers=exc.headers)
    return await problem_handler(request, exc)


async def invalid_page(request: Request, exc: RequestValidationError) -> Response:
    """Answer invalid input as a page to a reader, as a 422 problem to the API."""
    if _wants_page(request):
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            # /runs/abc names nothing that could exist: not found, not a form error.
            return error_page(request, 404, "Not found", f"There is no page at {request.url.path}.")
        detail = "; ".join(str(e.get("msg", "")) for e in exc.errors()) or "Invalid request."
        return error_page(request, 422, "Invalid request", detail)
    return await validation_handler(request, exc)


async def http_page(request: Request, exc: StarletteHTTPException) -> Response:
    """Answer Starlette's HTTP errors as a page to a reader, as a problem to the API."""
    if _wants_page(request):
        titles = {404: "Not found", 405: "Method not allowed"}
        detail = (
            f"There is no page at {request.url.path}."
            if exc.status_code == 404
            else str(exc.detail)
        )
        return error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), detail)
    return await http_handler(request, exc)


async def outage_page(request: Request, exc: OperationalError) -> Response:
    """Answer a database outage as a 503 page to a reader, as a 503 problem to the API."""
    if _wants_page(request):
        return error_page(
            request,
            503,
            "The ledger is briefly unavailable",
            "Its database cannot be reached right now. Try again in a few seconds; "
            "if you were sending a form, send it again.",
            headers={"Retry-After": "2"},
        )
    return await database_unavailable(request, exc)


class VersionedStaticFiles(StaticFiles):
    """Serve static files; a URL carrying the file's content hash may be cached for a year."""

    def file_response(
        self,
        full_path: "os.PathLike[str] | str",
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = os.path.relpath(full_path, STATIC_DIR)
        query = scope.get("query_string", b"").decode("latin-1")
        versioned = query.startswith("v=") and query[2:] == static_version(relative)
        response.headers["Cache-Control"] = IMMUTABLE if versioned else UNVERSIONED
        return response


class CompressionMiddleware(GZipMiddleware):
    """Gzip what a client accepts; others go straight through, at no cost to the API's reads."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(
            key == b"accept-encoding" and accepts_gzip(value) for key, value in scope["headers"]
        ):

            async def send_with_gzip_etag(message: Message) -> None:
                # The gzip body is another representation: it gets its own ETag.
                if message["type"] == "http.response.start":
                    headers = message.get("headers", [])
                    if any(k == b"content-encoding" and v == b"gzip" for k, v in headers):
                        message = {
                            **message,
                            "headers": [
                                (k, gzip_etag(v.decode("latin-1")).encode() if k == b"etag" else v)
                                for k, v in headers
                            ],
                        }
                await send(message)

            await super().__call__(scope, receive, send_with_gzip_etag)
        else:
            await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """Add the CSP and hardening headers; pure ASGI, so API reads pay almost nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        policy = _POLICY.format(styles="'self' " + inline_css()[1])
        # Prepared once: what every response gets, and what pages and the docs add.
        common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
        self.api_headers = common
        self.page_headers = [
            *common,
            (b"content-security-policy", policy.encode()),
            (b"x-frame-options", b"DENY"),
        ]
        # Swagger UI sets inline styles; scripts stay self-only everywhere.
        self.docs_headers = [
            *common,
            (b"content-security-policy", DOCS_POLICY.encode()),
            (b"x-frame-options", b"DENY"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/api/v1/"):
            extra = self.api_headers
        else:
            extra = self.docs_headers if path == "/api/docs" else self.page_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# The static files, after every router: hashed URLs cached for a year.
STATIC = Mount("/static", app=VersionedStaticFiles(directory=STATIC_DIR), name="static")
