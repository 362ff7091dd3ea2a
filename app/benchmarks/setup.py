"""Start the in-process worker with the app (the runs' routes are in `app.registry`)."""

import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.benchmarks.worker import Worker
from app.core.config import get_settings
from app.core.db import get_engine


def install(app: FastAPI) -> None:
    """Start a worker thread with the app unless runs go to `ledger worker`."""
    if not get_settings().inprocess_worker:
        return
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(the_app: FastAPI) -> AsyncIterator[Mapping[str, Any] | None]:
        worker = Worker(get_engine())
        thread = threading.Thread(target=worker.run_forever, name="ledger-worker", daemon=True)
        thread.start()
        the_app.state.worker = worker
        async with outer(the_app) as state:
            yield state
        worker.stop()
        thread.join(timeout=10)

    app.router.lifespan_context = lifespan  # type: ignore[assignment]
