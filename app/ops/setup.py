"""The operations part of the app: logging, `/metrics`, request ids and HTTP metrics.

`app.registry` lists them; `app.main` builds the app from that list.
"""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from starlette.types import ASGIApp

from app.core.db import get_engine
from app.core.errors import problem
from app.ops.access import metrics_allowed
from app.ops.health import inprocess_worker_status
from app.ops.http_metrics import HttpMetricsMiddleware, default_instrumentations
from app.ops.logging import configure_logging
from app.ops.metrics import RunQueueCollector, render
from app.ops.request_id import RequestIdMiddleware
from app.status import snapshot

# Probes and the scrape itself are not traffic worth a latency series.
NOT_INSTRUMENTED = ("/metrics", "/healthz", "/readyz")

router = APIRouter(include_in_schema=False)


def prepare(app: FastAPI) -> None:
    """Configure JSON logging and give the app its own metrics registries."""
    configure_logging(app.state.settings)
    # One registry per app instance: tests build many apps in one process without clashing.
    app.state.metrics_registry = CollectorRegistry(auto_describe=True)
    app.state.http_instrumentations = default_instrumentations(app.state.metrics_registry)
    app.state.database_registry = CollectorRegistry(auto_describe=False)
    app.state.database_registry.register(
        RunQueueCollector(get_engine, lambda: inprocess_worker_status(app))
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Serve the app's and the run queue's metrics to a caller with the metrics token."""
    if not metrics_allowed(request):
        response = problem(401, "Unauthorized", "Send 'Authorization: Bearer <metrics token>'.")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    state = request.app.state
    body = render(state.metrics_registry, state.database_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def request_ids(app: FastAPI, inner: ASGIApp) -> ASGIApp:
    """Bind and echo a request id around everything, 500s and their tracebacks included."""
    return RequestIdMiddleware(inner)


def http_metrics(app: FastAPI, inner: ASGIApp) -> ASGIApp:
    """Count and time every request, a 500 too, in the app's own registry."""
    return HttpMetricsMiddleware(inner, app.state.http_instrumentations, NOT_INSTRUMENTED)


@asynccontextmanager
async def warm_snapshot(app: FastAPI) -> AsyncIterator[None]:
    """Build the status snapshot beside start-up, so the first request need not wait for it.

    A request that comes first waits on the snapshot's lock and then reads what was built.
    """
    warming = threading.Thread(target=snapshot.warm, name="snapshot-warm", daemon=True)
    warming.start()
    yield
    # Joined so that no snapshot of this app's database lands after it stopped.
    warming.join(timeout=30)
