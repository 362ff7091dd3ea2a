"""Finish a run and record its evidence: the one place a run's outcome reaches the ledger."""

import os
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from app.benchmarks import evidence as run_evidence
from app.benchmarks import service
from app.benchmarks.models import BenchmarkRun, RunMode, RunState, spec_digest
from app.core import versions
from app.core.schema import utcnow
from app.sim import api as sim
from app.status.history import OUTSIDE_SNAPSHOT, bump_data_version, bump_runs_version


def finish(
    session: Session,
    run_id: int,
    attempt: int,
    *,
    state: RunState,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> BenchmarkRun | None:
    """Store the outcome of a run this claim holds, with its evidence, in one transaction.

    Return None when the claim no longer holds the run (it was requeued and taken again):
    then nothing is written, so a result and its evidence are recorded exactly once.
    """
    session.rollback()
    finished_at = utcnow()
    values: dict[str, Any] = {
        "state": state.value,
        "result": result,
        "error": error,
        "progress_message": state.value,
        "finished_at": finished_at,
        "environment": {**service.environment_record(), "finished_at": finished_at.isoformat()},
    }
    if state == RunState.succeeded:
        values["progress"] = 1.0
    engine = session.get_bind()
    assert isinstance(engine, Engine), "a run finishes on its own connection from the engine"
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            # The evidence service commits its own unit of work; joined as "rollback_only",
            # those commits stay inside this one transaction, which commits below.
            with Session(bind=connection, join_transaction_mode="rollback_only") as unit:
                taken = unit.exec(
                    update(BenchmarkRun).where(service.held(run_id, attempt)).values(values)
                )
                if taken.rowcount != 1:
                    transaction.rollback()
                    return None
                if state == RunState.succeeded:
                    run = unit.get(BenchmarkRun, run_id)
                    assert run is not None
                    # Its evidence is the run's one ledger write (it moves the ledger's version).
                    # Simulated figures that made no evidence still show on ledger pages; a
                    # run that repeated an earlier one changes nothing a ledger page shows.
                    recorded = run_evidence.record_as_evidence(unit, run)
                    if recorded.reproduces is not None:
                        unit.exec(
                            update(BenchmarkRun)
                            .where(col(BenchmarkRun.id) == run_id)
                            .values(reproduces_run_id=recorded.reproduces.id)
                        )
                    elif not recorded.items and service.comparisons(result or {}):
                        bump_data_version(unit, OUTSIDE_SNAPSHOT)
                # Last, like every other write: a version is a hot row to lock briefly.
                bump_runs_version(unit)
                unit.flush()
            transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
    versions.expire()  # committed on the connection, not by a session: say so here
    return session.get(BenchmarkRun, run_id)


def record_completed_run(
    session: Session,
    *,
    spec: dict[str, Any],
    result: dict[str, Any],
    actor: str,
    scenario_found: dict[str, Any] | None = None,
    mode: str = "evaluate",
) -> BenchmarkRun:
    """Store a run that was executed outside the queue (the CLI), with its evidence."""
    worker_id = f"cli:{os.getpid()}"
    run = BenchmarkRun(
        scenario_id=scenario_found.get("id") if scenario_found else None,
        mode=RunMode(mode),
        title=str((scenario_found or {}).get("title") or spec.get("kind") or "cli run")[:300],
        spec=spec,
        spec_digest=spec_digest(mode, spec),
        hardware=service.hardware_of(spec)[:200],
        runner_version=sim.RUNNER_VERSION,
        seed=int(spec.get("seed", 0)) if isinstance(spec.get("seed", 0), int) else 0,
        capability_slugs=list((scenario_found or {}).get("capabilities", [])),
        claim_slugs=list((scenario_found or {}).get("claims", [])),
        actor=actor,
        state=RunState.running,
        worker_id=worker_id,
        started_at=utcnow(),
        attempts=1,
    )
    session.add(run)
    session.commit()
    session.refresh(run)
    assert run.id is not None
    finished = finish(session, run.id, run.attempts, state=RunState.succeeded, result=result)
    assert finished is not None
    return finished
