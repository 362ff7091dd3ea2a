"""Every part of the web app, registered in plain code: routers, per-app state, lifespan
hooks, middleware and exception handlers.

`app.main` builds the app from these lists alone, so what is listed here, in this order, is the
whole story. The exported tables are listed in `app.exports.table`, for the CLI and the app.
"""

from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from app.benchmarks import refusals
from app.benchmarks import setup as benchmarks_setup
from app.benchmarks.routes import router as benchmarks_router
from app.capabilities.routes import router as capabilities_router
from app.claims.routes import router as claims_router
from app.core import cache
from app.core.docs import router as docs_router
from app.core.edge import InputLimitsMiddleware
from app.core.errors import ProblemError, integrity_handler
from app.dashboard import auth as dashboard_auth
from app.dashboard import compare as dashboard_compare
from app.dashboard import edit as dashboard_edit
from app.dashboard import feeds as dashboard_feeds
from app.dashboard import question_forms as dashboard_question_forms
from app.dashboard import runs as dashboard_runs
from app.dashboard import setup as dashboard_setup
from app.dashboard import signin as dashboard_signin
from app.dashboard import views as dashboard_views
from app.events.routes import router as events_router
from app.evidence.routes import router as evidence_router
from app.ladder.routes import router as ladder_router
from app.ops import setup as ops_setup
from app.ops.health import router as health_router
from app.questions.routes import router as questions_router
from app.sources.routes import router as sources_router

# In matching order: the JSON API, the probes, then the dashboard's pages and feeds.
ROUTERS: tuple[APIRouter, ...] = (
    docs_router,
    capabilities_router,
    claims_router,
    evidence_router,
    events_router,
    ladder_router,
    sources_router,
    questions_router,
    health_router,
    benchmarks_router,
    dashboard_views.router,
    dashboard_edit.router,
    dashboard_question_forms.router,
    dashboard_runs.router,
    dashboard_signin.router,
    dashboard_feeds.router,
    dashboard_compare.router,
    ops_setup.router,
)

# Mounted after every router.
MOUNTS: tuple[BaseRoute, ...] = (dashboard_setup.STATIC,)

# What each part keeps on the app (`app.state`) before it serves, in order.
PREPARE: tuple[Callable[[FastAPI], None], ...] = (ops_setup.prepare,)

# Entered at start-up in order, left at shutdown in reverse: the worker is stopped last.
LIFESPAN: tuple[Callable[[FastAPI], AbstractAsyncContextManager[None]], ...] = (
    benchmarks_setup.run_worker,
    ops_setup.warm_snapshot,
)

# Outermost first, around everything Starlette builds (its 500 handler included): the request
# id is bound for every log line and echoed on every response, 500s too; the metrics count every
# request; a cache hit skips every layer inside it.
OuterMiddleware = Callable[[FastAPI, ASGIApp], ASGIApp]
OUTER_MIDDLEWARE: tuple[OuterMiddleware, ...] = (
    ops_setup.request_ids,
    ops_setup.http_metrics,
    cache.cached_responses,
)

# Outermost first, inside Starlette's 500 handler and outside its exception handlers.
# Compression outermost, so every page, fragment, JSON list and asset can leave compressed;
# cached responses arrive already compressed and pass through untouched.
MIDDLEWARE: tuple[Middleware, ...] = (
    Middleware(dashboard_setup.CompressionMiddleware, minimum_size=1024, compresslevel=6),
    Middleware(dashboard_setup.SecurityHeadersMiddleware),
    Middleware(refusals.RefusedLatelyMiddleware),
    Middleware(InputLimitsMiddleware),
)

# One handler per exception. Those the dashboard and the API share answer a page to a reader
# and problem+json to the API, each calling the API's handler itself (`app.core.errors`).
ExceptionHandler = Callable[[Request, Any], Coroutine[Any, Any, Response]]
EXCEPTION_HANDLERS: dict[int | type[Exception], ExceptionHandler] = {
    ProblemError: dashboard_setup.problem_page,
    RequestValidationError: dashboard_setup.invalid_page,
    StarletteHTTPException: dashboard_setup.http_page,
    OperationalError: dashboard_setup.outage_page,
    IntegrityError: integrity_handler,
    dashboard_auth.NotSignedIn: dashboard_setup.not_signed_in,
    dashboard_auth.CsrfError: dashboard_setup.csrf_failed,
}
