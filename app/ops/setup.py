"""Plug the operations part into the app (called by `app.main.create_app`)."""

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp

from app.core.db import get_engine
from app.core.errors import problem
from app.ops.access import metrics_allowed
from app.ops.health import database_unavailable, inprocess_worker_status
from app.ops.http_metrics import HttpMetricsMiddleware, default_instrumentations
from app.ops.logging import configure_logging
from app.ops.metrics import RunQueueCollector, render
from app.ops.request_id import RequestIdMiddleware

# Probes and the scrape itself are not traffic worth a latency series.
NOT_INSTRUMENTED = ("/metrics", "/healthz", "/readyz")


def install(app: FastAPI) -> None:
    """Add `/metrics`, JSON logging and the request-id middleware (probes: `app.registry`)."""
    configure_logging(app.state.settings)
    app.add_exception_handler(OperationalError, database_unavailable)

    # One registry per app instance: tests build many apps in one process without clashing.
    app_registry = CollectorRegistry(auto_describe=True)
    database_registry = CollectorRegistry(auto_describe=False)
    database_registry.register(RunQueueCollector(get_engine, lambda: inprocess_worker_status(app)))
    app.state.metrics_registry = app_registry

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not metrics_allowed(request):
            response = problem(401, "Unauthorized", "Send 'Authorization: Bearer <metrics token>'.")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return Response(render(app_registry, database_registry), media_type=CONTENT_TYPE_LATEST)

    instrumentations = default_instrumentations(app_registry)

    def http_metrics(inner: ASGIApp) -> ASGIApp:
        return HttpMetricsMiddleware(inner, instrumentations, NOT_INSTRUMENTED)

    # Request id outermost, then the metrics, around everything Starlette builds.
    _wrap_outermost(app, http_metrics)
    _wrap_outermost(app, RequestIdMiddleware)


def _wrap_outermost(app: FastAPI, middleware: Callable[[ASGIApp], ASGIApp]) -> None:
    """Put `middleware` outside Starlette's whole stack, whatever other parts add later.

    Parts installed after this one may add `BaseHTTPMiddleware`s, which send the response from
    another task; wrapping the built stack keeps the request id bound for every log line of the
    request (Uvicorn's access line and the 500 traceback included) and echoed on every
    response, 500s too.
    """
    build_stack = app.build_middleware_stack

    def build_with_middleware() -> ASGIApp:
        return middleware(build_stack())

    setattr(app, "build_middleware_stack", build_with_middleware)  # noqa: B010
