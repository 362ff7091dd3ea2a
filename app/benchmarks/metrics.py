"""A worker loop's process-local metrics; `app.ops.metrics` serves them with the rest."""

from prometheus_client import Gauge, Histogram

# Seconds; runs longer than the last bound land in +Inf only.
RUN_DURATION_BUCKETS = (
    0.1,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)

# Process-local helpers for a worker loop (they live in the default registry).
WORKER_RUN_DURATION = Histogram(
    "ledger_worker_run_duration_seconds",
    "Wall time of benchmark runs executed by this process, by final state.",
    ["state"],
    buckets=RUN_DURATION_BUCKETS,
)
WORKER_QUEUE_DEPTH = Gauge(
    "ledger_worker_observed_queue_depth",
    "Queued benchmark runs as last seen by a worker process.",
    multiprocess_mode="mostrecent",
)


def observe_run_duration(seconds: float, state: str = "succeeded") -> None:
    """Record the wall time of one finished run (call it from the worker)."""
    WORKER_RUN_DURATION.labels(state=state).observe(max(0.0, float(seconds)))


def set_queue_depth(n: int) -> None:
    """Record how many runs the worker saw queued (call it from the worker)."""
    WORKER_QUEUE_DEPTH.set(max(0, int(n)))
