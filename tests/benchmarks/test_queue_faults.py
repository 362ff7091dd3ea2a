"""The run queue under faults, with real `ledger worker` and `ledger serve` processes.

- A heartbeat that fails (a trigger makes the database refuse it) does not end the run.
- A run taken from its holder (its heartbeats fail until another worker requeues and claims
  it) is finished once, by the new holder; the old holder stops executing it.
- A 3-second outage of a throwaway PostgreSQL cluster kills no worker and loses no run.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, col, select

from perf.throwaway_pg import ThrowawayPostgres, available, free_port
from tests.benchmarks.one_check import assert_one_check
from tests.conftest import ROOT, _reset_caches, migrate_and_seed

LEDGER = str(Path(sys.executable).with_name("ledger"))
# GPT-3 on 5,760 A100s over a micro-batch/interleave/ZeRO/recompute grid: 230,232 layouts in
# 12 chunks, each slowed by a second in the fault tests' workers (see slow_sweep_ledger.py).
# A sweep list holds at most 64 values (MAX_SWEEP_VALUES): the micro-batches are the 64
# smallest that divide the global batch (1 to 504), so no value is one no layout can use.
GLOBAL_BATCH = 1536 * 2 * 3 * 5 * 7
SWEEP = {
    "kind": "llm-training",
    "hardware": {"base": "a100-80gb-dgx", "overrides": {"network.inter_node.size": 720}},
    "model": {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048, "vocab": 51200},
    "sweep": {
        "num_accelerators": 5760,
        "use_all": False,
        "micro": [m for m in range(1, GLOBAL_BATCH + 1) if GLOBAL_BATCH % m == 0][:64],
        "interleave": list(range(1, 25)),
        "zero": [0, 1, 2, 3],
        "recompute": ["none", "selective", "full"],
    },
    "batch": {"global": GLOBAL_BATCH},
    "precision": "fp16",
}

SQLITE_FAULT = [
    "CREATE TABLE fault (id INTEGER PRIMARY KEY, active INTEGER NOT NULL)",
    "INSERT INTO fault VALUES (1, 0)",
    "CREATE TRIGGER fail_first_claim_heartbeats BEFORE UPDATE OF heartbeat_at ON benchmark_run "
    "WHEN OLD.state = 'running' AND OLD.attempts = 1 "
    "AND (SELECT active FROM fault WHERE id = 1) = 1 "
    "BEGIN SELECT RAISE(ABORT, 'injected heartbeat failure'); END",
]
POSTGRES_FAULT = [
    "CREATE TABLE fault (id INTEGER PRIMARY KEY, active INTEGER NOT NULL)",
    "INSERT INTO fault VALUES (1, 0)",
    "CREATE FUNCTION fail_heartbeat() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF OLD.state = 'running' AND OLD.attempts = 1 "
    "AND (SELECT active FROM fault WHERE id = 1) = 1 THEN "
    "RAISE EXCEPTION 'injected heartbeat failure'; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER fail_first_claim_heartbeats BEFORE UPDATE OF heartbeat_at ON benchmark_run "
    "FOR EACH ROW EXECUTE FUNCTION fail_heartbeat()",
]


def _engine(url: str):  # type: ignore[no-untyped-def]
    from app.core.db import make_engine

    return make_engine(url)


def _sql(url: str, *statements: str, **params: object) -> None:
    engine = _engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)
    engine.dispose()


def _install_heartbeat_fault(url: str) -> None:
    """Make the database refuse heartbeats of a run's first claim while the fault is on."""
    _sql(url, *(POSTGRES_FAULT if url.startswith("postgresql") else SQLITE_FAULT))


def _set_fault(url: str, active: bool) -> None:
    _sql(url, "UPDATE fault SET active = :active WHERE id = 1", active=int(active))


def _queue(url: str, *, capability: str | None = None, **fields: Any) -> int:
    from app.benchmarks.models import BenchmarkRun, BenchmarkRunCreate
    from app.benchmarks.service import create_run

    engine = _engine(url)
    with Session(engine) as session:
        run = create_run(session, BenchmarkRunCreate(**fields), actor="test")
        assert run.id is not None
        run_id = run.id
        if capability:  # a custom spec bears on no capability unless told; its evidence does
            stored = session.get(BenchmarkRun, run_id)
            assert stored is not None
            stored.capability_slugs = [capability]
            session.add(stored)
            session.commit()
    engine.dispose()
    return run_id


def _run(url: str, run_id: int) -> Any:
    from app.benchmarks.models import BenchmarkRun

    engine = _engine(url)
    with Session(engine) as session:
        run = session.get(BenchmarkRun, run_id)
        assert run is not None
        session.expunge(run)
    engine.dispose()
    return run


def _evidence_of(url: str, run_id: int) -> int:
    from app.evidence.models import Evidence

    engine = _engine(url)
    with Session(engine) as session:
        count = len(
            session.exec(select(Evidence.id).where(col(Evidence.benchmark_run_id) == run_id)).all()
        )
    engine.dispose()
    return count


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Process:
    """A `ledger` subprocess with its JSON log in a file."""

    def __init__(
        self, url: str, log_path: Path, *args: str, program: list[str] | None = None, **env: str
    ) -> None:
        self.log_path = log_path
        self.log_file = log_path.open("wb")
        environment = {
            **os.environ,
            "LEDGER_DATABASE_URL": url,
            "LEDGER_LOG_LEVEL": "INFO",
            "LEDGER_LOG_JSON": "true",
            **env,
        }
        self.popen = subprocess.Popen(
            [*(program or [LEDGER]), *args],
            env=environment,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=self.log_file,
        )

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict):
                out.append(item)
        return out

    def named(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events()
            if e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
        ]

    @property
    def worker_id(self) -> str:
        _wait(lambda: bool(self.named("worker.started")), 30, "the worker to start")
        return str(self.named("worker.started")[0]["worker_id"])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self.log_file.close()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


SLOW_LEDGER = [sys.executable, "-m", "tests.benchmarks.slow_sweep_ledger"]


def _worker(url: str, tmp_path: Path, name: str, *args: str) -> Process:
    return Process(
        url, tmp_path / f"{name}.log", "worker", "--poll", "0.1", *args, program=SLOW_LEDGER
    )


@pytest.mark.slow
def test_a_failing_heartbeat_does_not_end_the_run(
    db_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    _install_heartbeat_fault(db_url)
    run_id = _queue(db_url, spec=SWEEP, mode="sweep", capability="dojo-exapod")
    worker = _worker(db_url, tmp_path, "holder", "--heartbeat", "0.3")
    processes.append(worker)
    _wait(lambda: _run(db_url, run_id).state == "running", 60, "the run to start")
    _set_fault(db_url, True)
    time.sleep(1.5)  # several heartbeats and progress reports fail
    _set_fault(db_url, False)
    _wait(lambda: _run(db_url, run_id).state not in {"queued", "running"}, 180, "the outcome")

    run = _run(db_url, run_id)
    assert (run.state, run.error, run.attempts) == ("succeeded", None, 1)
    assert _evidence_of(db_url, run_id) == 1
    assert worker.named("run.heartbeat_failed", run_id=run_id)
    assert worker.alive()
    # The worker goes on serving the queue.
    second = _queue(db_url, scenario_id="cabinet-allreduce")
    _wait(lambda: _run(db_url, second).state == "succeeded", 60, "the next run")


@pytest.mark.slow
def test_a_stolen_run_is_finished_once_and_its_old_holder_stops(
    db_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    _install_heartbeat_fault(db_url)
    _set_fault(db_url, True)  # the first claim's heartbeats fail from the start
    run_id = _queue(db_url, spec=SWEEP, mode="sweep", capability="dojo-exapod")
    old = _worker(db_url, tmp_path, "old", "--heartbeat", "0.3", "--stale-after", "600")
    processes.append(old)
    _wait(lambda: _run(db_url, run_id).state == "running", 60, "the first claim")
    old_id = old.worker_id
    # The rescuer sees silent heartbeats, requeues the run and claims it as attempt 2.
    new = _worker(db_url, tmp_path, "new", "--heartbeat", "0.3", "--stale-after", "1.5")
    processes.append(new)
    _wait(lambda: _run(db_url, run_id).attempts == 2, 60, "the second claim")
    _wait(lambda: bool(old.named("run.stopped", run_id=run_id)), 60, "the old holder to stop")
    _wait(lambda: bool(new.named("run.succeeded", run_id=run_id)), 180, "the new holder's success")

    run = _run(db_url, run_id)
    assert run.attempts == 2 and run.worker_id == new.worker_id != old_id
    assert _evidence_of(db_url, run_id) == 1
    assert old.named("run.stopped", run_id=run_id, reason="lost")
    assert not old.named("run.succeeded", run_id=run_id)
    assert len(new.named("run.succeeded", run_id=run_id)) == 1
    assert old.alive() and new.alive()


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    if not available():
        if os.environ.get("CI") == "true":
            pytest.fail("initdb/pg_ctl are not installed; CI must run the outage test")
        pytest.skip("initdb/pg_ctl are not installed")
    cluster = ThrowawayPostgres().create()
    previous = os.environ.get("LEDGER_DATABASE_URL")
    try:
        admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE ledger"))
        admin.dispose()
        migrate_and_seed(cluster.url("ledger"))
        yield cluster
    finally:
        if previous is not None:
            os.environ["LEDGER_DATABASE_URL"] = previous
        _reset_caches()
        cluster.destroy()


@pytest.mark.slow
def test_a_database_outage_kills_no_worker_and_loses_no_run(
    throwaway_pg: ThrowawayPostgres, tmp_path: Path, processes: list[Process]
) -> None:
    url = throwaway_pg.url("ledger")
    # Two worker processes and the web app's thread: one executes a run, the others are idle.
    workers = [_worker(url, tmp_path, f"worker{i}", "--heartbeat", "0.5") for i in range(2)]
    port = free_port()
    server = Process(
        url,
        tmp_path / "serve.log",
        "serve",
        "--port",
        str(port),
        LEDGER_INPROCESS_WORKER="true",
        LEDGER_METRICS_TOKEN="queue-faults-ops-token",
    )
    processes.extend([*workers, server])
    base = f"http://127.0.0.1:{port}"

    def ready() -> dict[str, Any] | None:
        try:
            response = httpx.get(  # its details need a token
                f"{base}/readyz",
                timeout=5,
                headers={"Authorization": "Bearer queue-faults-ops-token"},
            )
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def both_alive() -> bool:
        body = ready()
        if body is None or body["checks"]["worker"] != "alive":
            return False
        kinds = sorted(w["kind"] for w in body["workers"] if w["alive"])
        return kinds == ["inprocess", "process", "process"]

    _wait(lambda: ready() is not None and all(w.worker_id for w in workers), 90, "the workers")
    during = _queue(url, spec=SWEEP, mode="sweep", capability="dojo-exapod")
    _wait(lambda: _run(url, during).state == "running", 60, "a run in progress")

    throwaway_pg.outage(3.0)

    time.sleep(2.0)
    assert all(w.alive() for w in workers), "a worker process exited during the outage"
    after = [_queue(url, scenario_id="fsd-hw3-8cam-redundant") for _ in range(4)]
    for run_id in [during, *after]:
        _wait(lambda run_id=run_id: _run(url, run_id).state == "succeeded", 180, f"run {run_id}")
    assert all(p.alive() for p in processes), "a worker process exited after the outage"
    for run_id in [during, *after]:
        run = _run(url, run_id)
        assert run.attempts == 1, (run_id, run.attempts)
    assert _evidence_of(url, during) == 1
    engine = _engine(url)
    with Session(engine) as session:  # the same scenario four times is one check
        assert_one_check(session, after, items=1)
    engine.dispose()
    _wait(both_alive, 30, "both workers to report alive after the outage")
    assert all(p.alive() for p in processes)

    def succeeded() -> list[int]:
        return sorted(e["run_id"] for p in processes for e in p.named("run.succeeded"))

    _wait(lambda: len(succeeded()) >= 5, 30, "every success to be logged")
    assert succeeded() == sorted([during, *after])  # each run executed exactly once
