"""Build the FastAPI application."""

import importlib
import secrets

from fastapi import FastAPI

from app.capabilities.routes import router as capabilities_router
from app.claims.routes import router as claims_router
from app.core.cache import CachedResponseMiddleware
from app.core.config import get_settings
from app.core.docs import router as docs_router
from app.core.errors import install_error_handlers
from app.events.routes import router as events_router
from app.evidence.routes import router as evidence_router
from app.ladder.routes import router as ladder_router
from app.sources.routes import router as sources_router

API_DESCRIPTION = """
Claims against evidence for Tesla AI Day hardware. Reads are public. Writes need
`Authorization: Bearer <token>` (create one with `ledger token create NAME --scope write`)
and, on updates, `If-Match` with the ETag from your last GET (412 if stale, 428 if missing).
Errors are `application/problem+json`. Lists paginate with an opaque `cursor`.
"""


def create_app() -> FastAPI:
    """Create the application with every router and handler."""
    settings = get_settings()
    app = FastAPI(
        title="AI Day Ledger",
        version="1.0.0",
        description=API_DESCRIPTION,
        docs_url=None,  # served by app.core.docs from self-hosted files
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        # Metrics go to Prometheus (app.ops); skipping FastAPI's OpenTelemetry probe saves
        # several environment lookups on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # A per-process salt keeps cached ETags from matching across restarts with other code.
    app.state.cache_salt = secrets.token_hex(4)
    app.state.settings = settings
    install_error_handlers(app)
    for router in (
        docs_router,
        capabilities_router,
        claims_router,
        evidence_router,
        events_router,
        ladder_router,
        sources_router,
    ):
        app.include_router(router)
    # Innermost middleware: the optional parts' middleware (ids, metrics, headers) wraps it.
    app.add_middleware(CachedResponseMiddleware)
    for module_name in OPTIONAL_PARTS:
        _install_optional(app, module_name)
    return app


# Parts that plug themselves in through an `install(app)` function, in this order.
OPTIONAL_PARTS = ("app.ops.setup", "app.benchmarks.setup", "app.dashboard.setup")


def _install_optional(app: FastAPI, module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        return
    module.install(app)
