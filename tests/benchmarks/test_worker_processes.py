"""Real `ledger worker` processes on PostgreSQL: exactly-once execution and crash recovery."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from tests.benchmarks.one_check import assert_one_check
from tests.conftest import (
    ROOT,
    _reset_caches,
    create_pg_database,
    drop_pg_database,
    migrate_and_seed,
    require_postgres,
)

LEDGER = str(Path(sys.executable).with_name("ledger"))
HEAVY_SWEEP = {
    # GPT-3 on 5,760 A100s with a wide micro-batch/interleave search: a few seconds of work.
    "kind": "llm-training",
    "hardware": {"base": "a100-80gb-dgx", "overrides": {"network.inter_node.size": 720}},
    "model": {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048, "vocab": 51200},
    "sweep": {
        "num_accelerators": 5760,
        "use_all": False,
        "micro": [d for d in range(1, 1537) if 1536 % d == 0],  # every divisor of the batch
        "interleave": list(range(1, 49)),
    },
    "batch": {"global": 1536},
    "precision": "fp16",
}


@pytest.fixture
def pg_url() -> Iterator[str]:
    require_postgres()
    url = create_pg_database()
    migrate_and_seed(url)
    yield url
    _reset_caches()
    drop_pg_database(url)


def _start_worker(url: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [LEDGER, "worker", "--poll", "0.1", "--heartbeat", "0.5", *extra],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _queue(url: str, count: int, **fields: object) -> list[int]:
    from app.benchmarks.models import BenchmarkRunCreate
    from app.benchmarks.service import create_run
    from app.core.db import make_engine

    engine = make_engine(url)
    ids = []
    with Session(engine) as session:
        for _ in range(count):
            run = create_run(session, BenchmarkRunCreate(**fields), actor="test")  # type: ignore[arg-type]
            ids.append(run.id)
    engine.dispose()
    return ids


def _runs(url: str) -> list:  # type: ignore[type-arg]
    from app.benchmarks.models import BenchmarkRun
    from app.core.db import make_engine

    engine = make_engine(url)
    with Session(engine) as session:
        rows = list(session.exec(select(BenchmarkRun).order_by(col(BenchmarkRun.id))).all())
        for row in rows:
            session.expunge(row)
    engine.dispose()
    return rows


def _wait(predicate, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _stop(*workers: subprocess.Popen[bytes]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=30)


@pytest.mark.postgres
def test_two_workers_run_twenty_runs_exactly_once(pg_url: str) -> None:
    ids = _queue(pg_url, 20, scenario_id="fsd-hw3-8cam-redundant")  # one evidence item in all
    workers = [_start_worker(pg_url), _start_worker(pg_url)]
    try:
        _wait(lambda: all(r.state == "succeeded" for r in _runs(pg_url)))
    finally:
        _stop(*workers)
    runs = _runs(pg_url)
    assert [r.id for r in runs] == ids
    assert all(r.attempts == 1 for r in runs), [(r.id, r.attempts) for r in runs]
    assert len({r.worker_id for r in runs}) == 2, "both workers should have taken runs"
    from app.core.db import make_engine

    engine = make_engine(pg_url)
    with Session(engine) as session:  # one check, recorded by one run, whichever finished first
        assert_one_check(session, ids, items=1)
    engine.dispose()


@pytest.mark.postgres
def test_run_of_a_killed_worker_is_recovered(pg_url: str) -> None:
    [run_id] = _queue(pg_url, 1, spec=HEAVY_SWEEP, mode="sweep")
    victim = _start_worker(pg_url)
    _wait(lambda: _runs(pg_url)[0].state == "running", timeout=30)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert _runs(pg_url)[0].state == "running"  # orphaned: nobody will finish it

    rescuer = _start_worker(pg_url, "--stale-after", "2")
    try:
        _wait(lambda: _runs(pg_url)[0].state == "succeeded", timeout=120)
    finally:
        _stop(rescuer)
    run = _runs(pg_url)[0]
    assert run.id == run_id and run.attempts == 2
    assert run.result and run.result["best"]


@pytest.mark.postgres
def test_sigterm_hands_the_run_back(pg_url: str) -> None:
    _queue(pg_url, 1, spec=HEAVY_SWEEP, mode="sweep")
    worker = _start_worker(pg_url)
    _wait(lambda: _runs(pg_url)[0].state == "running", timeout=30)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    run = _runs(pg_url)[0]
    # Either it finished before the signal landed, or it went back to the queue intact.
    assert run.state in {"queued", "succeeded"}, run.state
    if run.state == "queued":
        assert run.worker_id is None and "handed back" in run.progress_message
