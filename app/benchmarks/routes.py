"""JSON API for benchmark runs and scenarios."""

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.auth.dependencies import Writer, actor_of
from app.benchmarks import refusals, service
from app.benchmarks.models import BenchmarkRunCreate, BenchmarkRunPublic, RunState
from app.core.cache import cached_json
from app.core.db import SessionDep
from app.core.errors import COMMON_RESPONSES, WRITE_RESPONSES
from app.core.http import MAX_LIMIT, IdPath, Page
from app.core.versions import Shows

router = APIRouter(prefix="/api/v1", tags=["benchmarks"], responses=COMMON_RESPONSES)


@router.get("/scenarios")
def list_scenarios() -> list[dict[str, Any]]:
    """Return the bundled scenarios, each with the capabilities and claims it bears on."""
    return service.scenarios()


@router.get("/spec-schema")
def spec_schema() -> dict[str, Any]:
    """Return the JSON Schema of a custom spec (every workload kind) and of a scenario file."""
    return service.spec_schema()


@router.post(
    "/benchmark-runs",
    response_model=BenchmarkRunPublic,
    status_code=202,
    responses={**WRITE_RESPONSES, 202: {"description": "Queued; poll the Location"}},
)
async def start_run(
    # A credential refused lately never gets here (refusals.RefusedLatelyMiddleware).
    data: BenchmarkRunCreate,
    session: SessionDep,
    token: Writer,
    request: Request,
    response: Response,
) -> BenchmarkRunPublic:
    """Queue a simulated workload: a scenario id or a custom spec."""
    # A token's submissions wait on its quota lock: through the bulkhead, not the readers' threads.
    try:
        run = await service.SUBMISSIONS.run(
            service.create_run, session, data, actor=actor_of(token)
        )
    except service.QuotaRefused as refused:
        refusals.REFUSALS.remember(request.headers.get("authorization"), refused)
        raise
    response.headers["Location"] = f"/api/v1/benchmark-runs/{run.id}"
    return BenchmarkRunPublic.model_validate(run)


@router.get("/benchmark-runs", response_model=Page[BenchmarkRunPublic])
async def list_runs(
    request: Request,
    scenario_id: str | None = Query(default=None, max_length=120),
    state: RunState | None = None,
    capability: str | None = Query(default=None, max_length=120),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=500),
) -> Response:
    """List runs, newest first."""

    # Cached at the run queue's version: a list holding large sweep results is decompressed
    # and encoded once per change of the queue, not once per reader.
    def build(session: Session) -> tuple[object, dict[str, str]]:
        runs, next_cursor = service.list_runs(
            session,
            limit=limit,
            cursor=cursor,
            scenario_id=scenario_id,
            state=state,
            capability=capability,
        )
        items = [BenchmarkRunPublic.model_validate(r) for r in runs]
        return {"items": items, "next_cursor": next_cursor, "limit": limit}, {}

    return await cached_json(request, build, shows=Shows.runs)


@router.get("/benchmark-runs/{run_id}", response_model=BenchmarkRunPublic)
def get_run(run_id: IdPath, session: SessionDep) -> BenchmarkRunPublic:
    """Return a run with its state, progress and result."""
    return BenchmarkRunPublic.model_validate(service.get_run(session, run_id))


@router.post(
    "/benchmark-runs/{run_id}/cancel",
    response_model=BenchmarkRunPublic,
    responses={**WRITE_RESPONSES, 409: {"description": "Already finished"}},
)
def cancel_run(run_id: IdPath, session: SessionDep, token: Writer) -> BenchmarkRunPublic:
    """Cancel a queued run, or ask a running one to stop."""
    return BenchmarkRunPublic.model_validate(
        service.cancel_run(session, run_id, actor=actor_of(token))
    )
