"""Assert that runs of one spec made one check: one run recorded it, the others repeat it."""

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.benchmarks.models import BenchmarkRun
from app.evidence.models import Evidence


def evidence_count(session: Session, run_id: int) -> int:
    """Return how many evidence items a run recorded."""
    return session.exec(select(func.count()).where(col(Evidence.benchmark_run_id) == run_id)).one()


def assert_one_check(session: Session, run_ids: Sequence[int], items: int) -> None:
    """One original (among `run_ids`, or earlier) holds `items` evidence; every other run holds
    none and names that original as the run it repeated."""
    session.expire_all()
    runs = {run_id: session.get(BenchmarkRun, run_id) for run_id in run_ids}
    assert all(run is not None for run in runs.values()), "a run is missing"
    originals = [i for i, run in runs.items() if run and run.reproduces_run_id is None]
    cited = {run.reproduces_run_id for run in runs.values() if run and run.reproduces_run_id}
    assert len(originals) <= 1, f"runs {originals} each recorded the same check"
    assert len(cited | set(originals)) == 1, f"originals {originals}, repeats cite {cited}"
    [original] = cited | set(originals)

    assert evidence_count(session, original) == items, f"run {original} (the original)"
    repeats = [i for i in run_ids if i != original]
    recorded = [evidence_count(session, i) for i in repeats]
    assert recorded == [0] * len(repeats), f"runs {repeats} repeat it"
