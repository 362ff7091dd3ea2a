"""Plug the dashboard into the app: static files, pages, compression, headers, HTML errors."""

import os

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.assets import STATIC_DIR, static_version
from app.core.encoding import accepts_gzip, gzip_etag
from app.core.errors import ProblemError
from app.dashboard import auth
from app.dashboard.templating import inline_css, render

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


def install(app: FastAPI) -> None:
    """Add the dashboard's static files, headers and error pages (its routes: `app.registry`)."""
    STATIC_DIR.mkdir(exist_ok=True)
    app.mount("/static", VersionedStaticFiles(directory=str(STATIC_DIR)), name="static")

    policy = _POLICY.format(styles="'self' " + inline_css()[1])
    app.add_middleware(SecurityHeadersMiddleware, policy=policy)
    # Outermost, so every page, fragment, JSON list and asset can leave compressed; cached
    # responses arrive already compressed and pass through untouched.
    app.add_middleware(CompressionMiddleware, minimum_size=1024, compresslevel=6)

    api_problem = app.exception_handlers.get(ProblemError)
    api_http = app.exception_handlers.get(StarletteHTTPException)

    @app.exception_handler(auth.NotSignedIn)
    async def _not_signed_in(request: Request, exc: auth.NotSignedIn) -> Response:
        return auth.signin_redirect(request, exc)

    @app.exception_handler(auth.CsrfError)
    async def _csrf(request: Request, exc: auth.CsrfError) -> Response:
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

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        if _is_page(request) and api_problem is not None:
            return render(
                request,
                "error.html",
                {"status": exc.status, "title": exc.title, "detail": exc.detail},
                status_code=exc.status,
            )
        assert api_problem is not None
        return await api_problem(request, exc)  # type: ignore[misc]

    api_validation = app.exception_handlers.get(RequestValidationError)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_page(request) and "text/html" in request.headers.get("accept", ""):
            detail = "; ".join(str(e.get("msg", "")) for e in exc.errors()) or "Invalid request."
            return render(
                request,
                "error.html",
                {"status": 422, "title": "Invalid request", "detail": detail},
                status_code=422,
            )
        assert api_validation is not None
        return await api_validation(request, exc)  # type: ignore[misc]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_page(request) and "text/html" in request.headers.get("accept", ""):
            titles = {404: "Not found", 405: "Method not allowed"}
            return render(
                request,
                "error.html",
                {
                    "status": exc.status_code,
                    "title": titles.get(exc.status_code, "Error"),
                    "detail": str(exc.detail),
                },
                status_code=exc.status_code,
            )
        assert api_http is not None
        return await api_http(request, exc)  # type: ignore[misc]


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

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.policy = policy
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
