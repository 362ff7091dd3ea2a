"""A run's result and its evidence are committed together, once, by the claim that holds it."""

import pytest
from sqlmodel import Session, col, select

from app.benchmarks import evidence as run_evidence
from app.benchmarks import flow, service
from app.benchmarks.models import BenchmarkRun, BenchmarkRunCreate, RunState
from app.evidence.models import Evidence
from app.sim import api as sim


# One predicted test (each SoC runs the whole network): exactly one evidence item.
def _claimed(session: Session) -> tuple[int, int, dict]:  # type: ignore[type-arg]
    run = service.create_run(
        session, BenchmarkRunCreate(scenario_id="fsd-hw3-8cam-redundant"), actor="t"
    )
    claimed = service.claim_next(session, "worker-a")
    assert claimed is not None and claimed.id == run.id
    result = sim.evaluate(service.scenario_spec(sim.load_scenario("fsd-hw3-8cam-redundant")))
    return claimed.id, claimed.attempts, result


def _evidence(session: Session, run_id: int) -> int:
    session.expire_all()
    rows = session.exec(select(Evidence.id).where(col(Evidence.benchmark_run_id) == run_id))
    return len(rows.all())


def test_a_crash_while_recording_evidence_leaves_nothing_half_written(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, attempt, result = _claimed(session)
    record = run_evidence.record_as_evidence

    def record_then_crash(unit: Session, run: BenchmarkRun) -> None:
        record(unit, run)
        raise RuntimeError("the process died here")

    monkeypatch.setattr(run_evidence, "record_as_evidence", record_then_crash)
    with pytest.raises(RuntimeError):
        flow.finish(session, run_id, attempt, state=RunState.succeeded, result=result)
    run = session.get(BenchmarkRun, run_id, populate_existing=True)
    assert run is not None and run.state == "running" and run.result is None
    assert _evidence(session, run_id) == 0


def test_only_the_current_claim_can_finish_and_only_once(session: Session) -> None:
    run_id, attempt, result = _claimed(session)
    # The run is requeued (its worker went silent) and claimed again: attempt 2.
    session.execute(
        service.update(BenchmarkRun)
        .where(col(BenchmarkRun.id) == run_id)
        .values(state="queued", worker_id=None)
    )
    session.commit()
    again = service.claim_next(session, "worker-b")
    assert again is not None and again.attempts == attempt + 1

    assert not service.heartbeat(session, run_id, attempt)
    assert service.report_progress(session, run_id, attempt, 0.5, "x") == service.Holding.lost
    assert flow.finish(session, run_id, attempt, state=RunState.succeeded, result=result) is None
    assert _evidence(session, run_id) == 0

    assert service.heartbeat(session, run_id, attempt + 1)
    done = flow.finish(session, run_id, attempt + 1, state=RunState.succeeded, result=result)
    assert done is not None and done.state == "succeeded"
    assert (
        flow.finish(session, run_id, attempt + 1, state=RunState.succeeded, result=result) is None
    )
    assert _evidence(session, run_id) == 1
