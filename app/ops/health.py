"""Liveness (`/healthz`) and readiness (`/readyz`) probes."""

from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.core.db import SessionDep
from app.core.errors import problem
from app.ops.access import may_see_details
from app.ops.metrics import read_workers

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = PROJECT_ROOT / "migrations"
VERSION_TABLE = "alembic_version"

log = structlog.get_logger(__name__)
router = APIRouter(tags=["operations"])

_OK = b'{"status":"ok"}'


@lru_cache
def expected_heads() -> frozenset[str]:
    """Return the head revisions of the migrations shipped with this code (read once)."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def database_heads(session: Session) -> frozenset[str]:
    """Return the revisions the database is at (empty when it was never migrated).

    Raises SQLAlchemyError when the database cannot be reached.
    """
    connection = session.connection()
    connection.execute(text("SELECT 1"))
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    return frozenset(str(row) for row in rows)


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> Response:
    """Answer without touching the database, so a slow database never restarts the process."""
    return Response(_OK, media_type="application/json")


@router.get(
    "/readyz",
    summary="Readiness: the database is reachable and migrations are at head",
    responses={503: {"description": "Not ready (problem+json)"}},
)
def readyz(request: Request, session: SessionDep) -> JSONResponse:
    """Return 200 when the app can serve traffic, else 503; the reasons need a token.

    Anyone learns ready or not. The checks, the database's error, the revisions and the
    workers go only to a caller with an API token or the metrics token (`Authorization:
    Bearer`): they name hosts, ports and versions.
    """
    answer = _readiness(request, session)
    try:
        if may_see_details(request, session):
            return answer
    finally:
        session.close()
    if answer.status_code == 200:
        return JSONResponse({"status": "ok"})
    return problem(503, "Not ready", "The service is not ready; retry shortly.")


def _readiness(request: Request, session: Session) -> JSONResponse:
    expected = expected_heads()
    worker = inprocess_worker_status(request.app) or "disabled"
    try:
        current = database_heads(session)
        workers = _workers(session) if current == expected else []
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        return problem(
            503,
            "Not ready",
            f"The database is not reachable: {reason}",
            checks={"database": "unreachable", "migrations": "unknown"},
        )
    if current != expected:
        return problem(
            503,
            "Not ready",
            "The database schema is not at the head revision; run `ledger db upgrade`.",
            checks={"database": "ok", "migrations": "not_at_head"},
            current=sorted(current),
            expected=sorted(expected),
        )
    checks = {"database": "ok", "migrations": "ok", "worker": worker}
    if worker == "dead":
        return problem(
            503,
            "Not ready",
            "The worker thread of this process died too often and is no longer restarted; "
            "queued runs would wait forever. Restart the process.",
            checks=checks,
            workers=workers,
        )
    return JSONResponse(
        {"status": "ok", "checks": checks, "revision": sorted(current), "workers": workers}
    )


def inprocess_worker_status(app: Any) -> str | None:
    """Return this process's worker thread status ("alive", "restarting", "dead") or None."""
    supervisor = getattr(app.state, "worker_supervisor", None)
    return None if supervisor is None else str(supervisor.status)


def _workers(session: Session) -> list[dict[str, Any]]:
    """Describe every run-queue worker the database knows (any process)."""
    return [
        {
            "id": seen.worker_id,
            "kind": seen.kind,
            "state": seen.state,
            "alive": seen.alive,
            "seconds_since_seen": round(seen.seconds_since_seen, 1),
        }
        for seen in read_workers(session.connection())
    ]


async def database_unavailable(_request: Request, exc: Exception) -> Response:
    """Answer 503 with Retry-After, not 500, while the database cannot be reached (an outage)."""
    log.warning("database.unavailable", error=type(exc).__name__)
    response = problem(
        503,
        "Database unavailable",
        "The database cannot be reached right now, so the request may not have been applied. "
        "Retry shortly; a write sent with If-Match is safe to retry.",
    )
    response.headers["Retry-After"] = "2"
    return response
