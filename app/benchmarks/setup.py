"""Start the supervised in-process worker with the app (listed in `app.registry`)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.benchmarks.service import requeue_bundled_if_runner_changed
from app.benchmarks.worker import Supervisor, Worker
from app.core.config import get_settings
from app.core.db import get_engine

log = structlog.get_logger(__name__)


@asynccontextmanager
async def run_worker(app: FastAPI) -> AsyncIterator[None]:
    """Start a supervised worker thread unless runs go to `ledger worker`.

    At start-up, the bundled scenarios are queued again if the runner version changed.
    """
    requeue_bundled_runs()
    supervisor = None
    if get_settings().inprocess_worker:
        supervisor = Supervisor(lambda: Worker(get_engine(), kind="inprocess"))
        supervisor.start()
        app.state.worker_supervisor = supervisor
    yield
    if supervisor is not None:
        supervisor.stop()


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
