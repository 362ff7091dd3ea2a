"""Start the supervised in-process worker with the app (the runs' routes are in `app.registry`)."""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.benchmarks.service import requeue_bundled_if_runner_changed
from app.benchmarks.worker import Supervisor, Worker
from app.core.config import get_settings
from app.core.db import get_engine

log = structlog.get_logger(__name__)


def install(app: FastAPI) -> None:
    """Start a supervised worker thread unless runs go to `ledger worker`.

    At start-up, the bundled scenarios are queued again if the runner version changed.
    """
    outer = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(the_app: FastAPI) -> AsyncIterator[Mapping[str, Any] | None]:
        requeue_bundled_runs()
        supervisor = None
        if get_settings().inprocess_worker:
            supervisor = Supervisor(lambda: Worker(get_engine(), kind="inprocess"))
            supervisor.start()
            the_app.state.worker_supervisor = supervisor
        async with outer(the_app) as state:
            yield state
        if supervisor is not None:
            supervisor.stop()

    app.router.lifespan_context = lifespan  # type: ignore[assignment]


def requeue_bundled_runs() -> None:
    """Queue the bundled scenarios again when the runner changed (a database error only warns)."""
    try:
        with Session(get_engine()) as session:
            queued = requeue_bundled_if_runner_changed(session)
    except SQLAlchemyError as exc:
        log.warning("bundled_runs.not_requeued", error=type(exc).__name__)
        return
    if queued:
        log.info("bundled_runs.requeued", count=len(queued))
