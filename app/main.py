"""Build the FastAPI application from the parts listed in `app.registry`."""

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp

from app.core.as_of import read_as_of
from app.core.config import get_settings
from app.core.edge import reject_invalid_input
from app.registry import (
    EXCEPTION_HANDLERS,
    LIFESPAN,
    MIDDLEWARE,
    MOUNTS,
    OUTER_MIDDLEWARE,
    PREPARE,
    ROUTERS,
    OuterMiddleware,
)

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
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Enter every part's lifespan hook in order; leave them in reverse."""
    async with AsyncExitStack() as hooks:
        for hook in LIFESPAN:
            await hooks.enter_async_context(hook(app))
        yield


class LedgerApp(FastAPI):
    """FastAPI with outer middleware (outermost first) around the stack Starlette builds."""

    def __init__(self, *, outer_middleware: Sequence[OuterMiddleware] = (), **kwargs: Any):
        super().__init__(**kwargs)
        self.outer_middleware = tuple(outer_middleware)

    def build_middleware_stack(self) -> ASGIApp:
        """Wrap Starlette's stack (its 500 handler included) in the outer middleware."""
        stack = super().build_middleware_stack()
        for wrap in reversed(self.outer_middleware):
            stack = wrap(self, stack)
        return stack


def create_app() -> FastAPI:
    """Create the application with every router and handler."""
    settings = get_settings()
    app = LedgerApp(
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
        lifespan=lifespan,
        middleware=MIDDLEWARE,
        exception_handlers=EXCEPTION_HANDLERS,
        outer_middleware=OUTER_MIDDLEWARE,
    )
    app.state.settings = settings
    for prepare in PREPARE:
        prepare(app)
    for router in ROUTERS:
        app.include_router(router)
    app.router.routes.extend(MOUNTS)
    return app
