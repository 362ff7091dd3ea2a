"""Build the FastAPI application."""

import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app.benchmarks import setup as benchmarks_setup
from app.core.as_of import read_as_of
from app.core.cache import CachedResponseMiddleware
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
    # A per-process salt keeps cached ETags from matching across restarts with other code.
    app.state.cache_salt = secrets.token_hex(4)
    app.state.settings = settings
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # Innermost: the cache, then the input limits; the parts' middleware (ids, metrics,
    # headers) wraps both.
    app.add_middleware(CachedResponseMiddleware)
    app.add_middleware(InputLimitsMiddleware)
    ops_setup.install(app)
    benchmarks_setup.install(app)
    dashboard_setup.install(app)
    return app
