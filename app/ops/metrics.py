"""Prometheus metrics: HTTP requests per route, the benchmark run queue and run durations.

Multi-process correctness: with several Uvicorn workers (or replicas, or a separate `ledger
worker`), nothing that matters is kept in one process's memory.

- HTTP metrics (`app.ops.http_metrics`) use prometheus-fastapi-instrumentator's names. When
  `PROMETHEUS_MULTIPROC_DIR` is set (the container entrypoint sets it), every worker writes them
  to that folder and `/metrics` aggregates all workers; otherwise they are kept in the process.
- The run queue depth, the runs per state and the run-duration histogram are read from the
  `benchmark_run` table at scrape time by `RunQueueCollector`, so every replica reports the same
  numbers whichever process executed the runs. A database without that table yet reports
  `ledger_benchmark_runs_table_present 0` and nothing else.
- `app.benchmarks.metrics` holds the process-local helpers of a worker loop (visible in that
  process's registry, and in the app's `/metrics` for the in-process worker).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from app.benchmarks.metrics import RUN_DURATION_BUCKETS

RUN_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED_STATES = ("succeeded", "failed", "cancelled")


@dataclass
class RunStats:
    """What the `benchmark_run` table says, aggregated in one query."""

    by_state: dict[str, int] = field(default_factory=dict)
    # Per state: (cumulative counts per bucket in RUN_DURATION_BUCKETS order, count, sum).
    durations: dict[str, tuple[list[int], int, float]] = field(default_factory=dict)
    oldest_queued_age_seconds: float = 0.0


def _duration_sql(dialect: str) -> str:
    if dialect == "postgresql":
        return "EXTRACT(EPOCH FROM (finished_at - started_at))"
    return "((julianday(finished_at) - julianday(started_at)) * 86400.0)"


def read_run_stats(engine: Engine) -> RunStats | None:
    """Aggregate the benchmark runs; None when the table does not exist (yet)."""
    duration = _duration_sql(engine.dialect.name)
    timed = "started_at IS NOT NULL AND finished_at IS NOT NULL"
    bucket_columns = ", ".join(
        f"SUM(CASE WHEN {timed} AND {duration} <= {bound!r} THEN 1 ELSE 0 END)"
        for bound in RUN_DURATION_BUCKETS
    )
    aggregate = text(
        f"SELECT state, COUNT(*), SUM(CASE WHEN {timed} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {timed} THEN {duration} ELSE 0 END), {bucket_columns} "
        "FROM benchmark_run GROUP BY state"
    )
    oldest = text("SELECT MIN(created_at) FROM benchmark_run WHERE state = 'queued'")
    stats = RunStats()
    try:
        with engine.connect() as conn:
            rows = conn.execute(aggregate).all()
            oldest_value = conn.execute(oldest).scalar()
    except SQLAlchemyError:
        return None
    for row in rows:
        state = str(row[0])
        stats.by_state[state] = int(row[1] or 0)
        if state in FINISHED_STATES:
            buckets = [int(v or 0) for v in row[4:]]
            stats.durations[state] = (buckets, int(row[2] or 0), float(row[3] or 0.0))
    created = _as_datetime(oldest_value)
    if created is not None:
        age = dt.datetime.now(dt.UTC) - created
        stats.oldest_queued_age_seconds = max(0.0, age.total_seconds())
    return stats


# A worker that has not said it is alive for this long counts as down (its heartbeat is ~2 s).
WORKER_SILENT_AFTER_S = 15.0


@dataclass
class WorkerSeen:
    """One worker's row in `benchmark_worker`: who, what it does, and whether it is alive."""

    worker_id: str
    kind: str
    state: str
    seconds_since_seen: float

    @property
    def alive(self) -> bool:
        """A worker is alive when it has not stopped and was seen recently."""
        return self.state != "stopped" and self.seconds_since_seen <= WORKER_SILENT_AFTER_S


def read_workers(connection: Connection) -> list[WorkerSeen]:
    """Return every known worker; raise SQLAlchemyError when the table cannot be read."""
    rows = connection.execute(
        text(
            "SELECT worker_id, kind, state, last_seen_at FROM benchmark_worker "
            "ORDER BY worker_id LIMIT 200"
        )
    ).all()
    now = dt.datetime.now(dt.UTC)
    seen = []
    for worker_id, kind, state, last_seen_at in rows:
        when = _as_datetime(last_seen_at)
        age = (now - when).total_seconds() if when else float("inf")
        seen.append(WorkerSeen(str(worker_id), str(kind), str(state), max(0.0, age)))
    return seen


def _as_datetime(value: object) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class RunQueueCollector(Collector):
    """Read the run queue from the database at scrape time (correct across processes)."""

    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        inprocess_status: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._engine_factory = engine_factory
        self._inprocess_status = inprocess_status

    def describe(self) -> Iterable[Metric]:
        # Do not touch the database at registration time.
        return []

    def collect(self) -> Iterator[Metric]:
        yield from self._collect_inprocess()
        try:
            engine = self._engine_factory()
            stats = read_run_stats(engine)
        except SQLAlchemyError:
            stats = None
        if stats is not None:
            yield from self._collect_workers(engine)
        present = GaugeMetricFamily(
            "ledger_benchmark_runs_table_present",
            "1 when the benchmark_run table could be read at scrape time.",
            value=0 if stats is None else 1,
        )
        yield present
        if stats is None:
            return
        yield GaugeMetricFamily(
            "ledger_benchmark_run_queue_depth",
            "Benchmark runs queued and waiting for a worker (from the database).",
            value=stats.by_state.get("queued", 0),
        )
        yield GaugeMetricFamily(
            "ledger_benchmark_oldest_queued_run_age_seconds",
            "Age of the oldest queued benchmark run (0 when none is queued).",
            value=stats.oldest_queued_age_seconds,
        )
        by_state = GaugeMetricFamily(
            "ledger_benchmark_runs",
            "Benchmark runs by state (from the database).",
            labels=["state"],
        )
        for state in sorted(set(RUN_STATES) | set(stats.by_state)):
            by_state.add_metric([state], stats.by_state.get(state, 0))
        yield by_state
        histogram = HistogramMetricFamily(
            "ledger_benchmark_run_duration_seconds",
            "Duration (finished_at - started_at) of finished benchmark runs, from the database.",
            labels=["state"],
        )
        for state in FINISHED_STATES:
            cumulative, count, total = stats.durations.get(
                state, ([0] * len(RUN_DURATION_BUCKETS), 0, 0.0)
            )
            buckets = [
                (_bucket_label(bound), value)
                for bound, value in zip(RUN_DURATION_BUCKETS, cumulative, strict=True)
            ]
            buckets.append(("+Inf", count))
            histogram.add_metric([state], buckets, total)
        yield histogram

    def _collect_inprocess(self) -> Iterator[Metric]:
        status = self._inprocess_status()
        if status is None:
            return  # this process runs no worker thread
        yield GaugeMetricFamily(
            "ledger_inprocess_worker_up",
            "1 when this web process's worker thread is alive (0: dead or being restarted).",
            value=1 if status == "alive" else 0,
        )

    def _collect_workers(self, engine: Engine) -> Iterator[Metric]:
        try:
            with engine.connect() as conn:
                workers = read_workers(conn)
        except SQLAlchemyError:
            return  # an older schema without the table
        up = GaugeMetricFamily(
            "ledger_worker_up",
            f"1 per run-queue worker seen within {WORKER_SILENT_AFTER_S:g} s and not stopped.",
            labels=["worker", "kind"],
        )
        age = GaugeMetricFamily(
            "ledger_worker_seconds_since_seen",
            "Seconds since each run-queue worker last said it was alive.",
            labels=["worker", "kind"],
        )
        for worker in workers:
            up.add_metric([worker.worker_id, worker.kind], 1 if worker.alive else 0)
            age.add_metric([worker.worker_id, worker.kind], worker.seconds_since_seen)
        yield up
        yield age
        yield GaugeMetricFamily(
            "ledger_workers_alive",
            "Run-queue workers alive now (processes and web-app threads).",
            value=sum(1 for worker in workers if worker.alive),
        )


def _bucket_label(bound: float) -> str:
    return repr(float(bound))


def multiprocess_dir() -> str | None:
    """Return the Prometheus multi-process folder when one is configured and exists."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


def render(app_registry: CollectorRegistry, database_registry: CollectorRegistry) -> bytes:
    """Render the exposition text for one scrape.

    Multi-process: every worker's files (HTTP metrics, worker helpers) plus the database view.
    Single process: this app's HTTP metrics, the default registry (process, GC, worker helpers)
    and the database view.
    """
    if multiprocess_dir():
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        parts = [merged, database_registry]
    else:
        parts = [app_registry, REGISTRY, database_registry]
    return b"".join(generate_latest(registry) for registry in parts)
