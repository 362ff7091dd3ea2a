"""Plug the operations part into the app (called by `app.main.create_app`)."""

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

from app.core.db import get_engine
from app.ops.health import router as health_router
from app.ops.logging import configure_logging
from app.ops.metrics import RunQueueCollector, render
from app.ops.request_id import RequestIdMiddleware

# Probes and the scrape itself are not traffic worth a latency series.
NOT_INSTRUMENTED = ["^/metrics$", "^/healthz$", "^/readyz$"]


def install(app: FastAPI) -> None:
    """Add probes, `/metrics`, JSON logging and the request-id middleware."""
    configure_logging(app.state.settings)
    app.include_router(health_router)

    # One registry per app instance: tests build many apps in one process without clashing.
    app_registry = CollectorRegistry(auto_describe=True)
    database_registry = CollectorRegistry(auto_describe=False)
    database_registry.register(RunQueueCollector(get_engine))
    Instrumentator(
        excluded_handlers=NOT_INSTRUMENTED,
        should_group_status_codes=False,
        registry=app_registry,
    ).instrument(app, metric_namespace="ledger")
    app.state.metrics_registry = app_registry

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(render(app_registry, database_registry), media_type=CONTENT_TYPE_LATEST)

    # Added last, so it is the outermost of these: the id is bound before anything logs.
    app.add_middleware(RequestIdMiddleware)
