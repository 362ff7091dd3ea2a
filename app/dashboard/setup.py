"""Plug the dashboard into the app: static files, pages, security headers, HTML errors."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import ProblemError
from app.dashboard import auth
from app.dashboard.templating import PROJECT_ROOT, render

# Scripts only from this origin: no inline scripts, no eval. Chart data travels in
# <script type="application/json"> blocks, which are data and never executed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
API_PREFIXES = ("/api/", "/static/", "/metrics", "/healthz", "/readyz")


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(API_PREFIXES) and path not in ("/feed.atom",)


def install(app: FastAPI) -> None:
    """Add the dashboard's static files, headers and error pages (its routes: `app.registry`)."""
    static_dir = PROJECT_ROOT / "static"
    static_dir.mkdir(exist_ok=True)
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    app.add_middleware(SecurityHeadersMiddleware)

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


class SecurityHeadersMiddleware:
    """Add the CSP and hardening headers; pure ASGI, so API reads pay almost nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
        if not scope["path"].startswith("/api/v1/"):
            # Swagger UI sets inline styles; scripts stay self-only everywhere.
            policy = DOCS_POLICY if scope["path"] == "/api/docs" else CONTENT_SECURITY_POLICY
            extra += [
                (b"content-security-policy", policy.encode()),
                (b"x-frame-options", b"DENY"),
            ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
