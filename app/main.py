"""Build the FastAPI application."""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app.benchmarks import setup as benchmarks_setup
from app.core import cache
from app.core.as_of import read_as_of
from app.core.config import get_settings
from app.core.edge import InputLimitsMiddleware, reject_invalid_input
from app.core.errors import install_error_handlers
from app.dashboard import setup as dashboard_setup
from app.ops import setup as ops_setup
from app.registry import ROUTERS
from app.status import snapshot

API_DESCRIPTION = """
Claims against evidence for Tesla AI Day hardware. Reads are public. Writes need
`Authorization: Bearer <token>` (create one with `ledger token create NAME --scope write`)
and, on updates, `If-Match` with the ETag from your last GET (412 if stale, 428 if missing).
Errors are `application/problem+json`. Lists paginate with an opaque `cursor`.
Every read takes `as_of=YYYY-MM-DD` and answers with the ledger as it stood that day
(claims made and evidence surely published by then, statuses and verdicts computed from them);
a bad date is a 422.
"""


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
        # Raises what InputLimitsMiddleware found wrong with the path, query or body.
        # The second keeps the day a read asks for (?as_of=YYYY-MM-DD) for the snapshot.
        dependencies=[Depends(reject_invalid_input), Depends(read_as_of)],
        lifespan=warm_snapshot,
    )
    app.state.settings = settings
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(InputLimitsMiddleware)
    # The cache outside everything Starlette builds (so a hit skips those layers), inside the
    # request ids and metrics that ops wraps around it.
    cache.install(app)
    ops_setup.install(app)
    benchmarks_setup.install(app)
    dashboard_setup.install(app)
    return app
