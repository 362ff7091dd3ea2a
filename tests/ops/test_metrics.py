"""/metrics: request counts and latencies per route; run queue depth and durations from the DB."""

import datetime as dt

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from app.benchmarks import metrics as worker_metrics
from app.benchmarks.models import BenchmarkRun
from app.ops import metrics
from app.ops.metrics import read_run_stats


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples[(name, tuple(sorted(labels.items())))]


def test_request_counts_and_latencies_per_route(client: TestClient) -> None:
    for _ in range(3):
        assert client.get("/api/v1/capabilities").status_code == 200
    assert client.get("/api/v1/capabilities/dojo-d1").status_code == 200
    assert client.get("/api/v1/capabilities/no-such-thing").status_code == 404
    assert client.get("/no/such/route/12345").status_code == 404
    samples = scrape(client)
    route = "/api/v1/capabilities/{slug}"
    total = "ledger_http_requests_total"
    assert value(samples, total, handler="/api/v1/capabilities", method="GET", status="200") == 3
    assert value(samples, total, handler=route, method="GET", status="200") == 1
    assert value(samples, total, handler=route, method="GET", status="404") == 1
    latency = "ledger_http_request_duration_seconds_count"
    assert value(samples, latency, handler=route, method="GET") == 2
    assert (
        value(
            samples,
            "ledger_http_request_duration_seconds_bucket",
            handler="/api/v1/capabilities",
            method="GET",
            le="+Inf",
        )
        == 3
    )
    # Unrouted paths share one series instead of one per URL.
    assert value(samples, total, handler="none", method="GET", status="404") == 1
    # The probes and the scrape itself are not counted as traffic.
    assert not any(labels and ("handler", "/metrics") in labels for _name, labels in samples)


def _run(state: str, created: dt.datetime, seconds: float | None = None) -> BenchmarkRun:
    run = BenchmarkRun(title=f"{state} run", state=state, created_at=created, actor="test")
    if seconds is not None:
        run.started_at = created
        run.finished_at = created + dt.timedelta(seconds=seconds)
    elif state == "running":
        run.started_at = created
    return run


def test_queue_depth_and_run_durations_come_from_the_database(
    client: TestClient, session: Session
) -> None:
    empty = scrape(client)
    assert value(empty, "ledger_benchmark_runs_table_present") == 1
    assert value(empty, "ledger_benchmark_run_queue_depth") == 0

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    an_hour_ago = now - dt.timedelta(hours=1)
    session.add_all(
        [
            _run("queued", an_hour_ago),
            _run("queued", now),
            _run("queued", now),
            _run("running", now),
            _run("succeeded", an_hour_ago, seconds=1.5),
            _run("succeeded", an_hour_ago, seconds=40),
            _run("failed", an_hour_ago, seconds=700),
        ]
    )
    session.commit()

    samples = scrape(client)
    assert value(samples, "ledger_benchmark_run_queue_depth") == 3
    assert value(samples, "ledger_benchmark_runs", state="queued") == 3
    assert value(samples, "ledger_benchmark_runs", state="running") == 1
    assert value(samples, "ledger_benchmark_runs", state="cancelled") == 0
    assert 3500 < value(samples, "ledger_benchmark_oldest_queued_run_age_seconds") < 3700
    hist = "ledger_benchmark_run_duration_seconds"
    assert value(samples, hist + "_bucket", state="succeeded", le="1.0") == 0
    assert value(samples, hist + "_bucket", state="succeeded", le="2.5") == 1
    assert value(samples, hist + "_bucket", state="succeeded", le="60.0") == 2
    assert value(samples, hist + "_bucket", state="succeeded", le="+Inf") == 2
    assert value(samples, hist + "_count", state="succeeded") == 2
    assert abs(value(samples, hist + "_sum", state="succeeded") - 41.5) < 0.01
    assert value(samples, hist + "_bucket", state="failed", le="600.0") == 0
    assert value(samples, hist + "_bucket", state="failed", le="1800.0") == 1
    assert value(samples, hist + "_count", state="cancelled") == 0


def test_collector_tolerates_a_database_without_the_runs_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'no-runs.db'}")
    assert read_run_stats(engine) is None
    registry_text = b"".join(
        metrics.generate_latest(r)
        for r in [_registry_with(metrics.RunQueueCollector(lambda: engine))]
    ).decode()
    assert "ledger_benchmark_runs_table_present 0.0" in registry_text
    assert "ledger_benchmark_run_queue_depth" not in registry_text
    engine.dispose()


def _registry_with(collector: metrics.RunQueueCollector) -> metrics.CollectorRegistry:
    registry = metrics.CollectorRegistry()
    registry.register(collector)
    return registry


def test_worker_helpers_show_up_in_the_exposition(client: TestClient) -> None:
    before = scrape(client).get(
        ("ledger_worker_run_duration_seconds_count", (("state", "succeeded"),)), 0.0
    )
    worker_metrics.observe_run_duration(2.0)
    worker_metrics.observe_run_duration(-1.0, state="failed")  # clamped, never negative
    worker_metrics.set_queue_depth(7)
    samples = scrape(client)
    count = value(samples, "ledger_worker_run_duration_seconds_count", state="succeeded")
    assert count == before + 1
    assert value(samples, "ledger_worker_observed_queue_depth") == 7


def test_requests_that_raise_are_counted_as_500() -> None:
    from tests.ops.helpers import make_ops_app

    app = make_ops_app()

    @app.get("/explode/{thing}")
    def explode(thing: str) -> None:
        raise RuntimeError(thing)

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/explode/now").status_code == 500
    samples = scrape(client)
    assert (
        value(
            samples,
            "ledger_http_requests_total",
            handler="/explode/{thing}",
            method="GET",
            status="500",
        )
        == 1
    )


def test_a_gauge_per_worker_says_whether_it_is_alive(client: TestClient, session: Session) -> None:
    from sqlalchemy import text

    from app.benchmarks.service import touch_worker

    touch_worker(session, "w-alive", kind="process", state="running", run_id=3)
    touch_worker(session, "w-silent", kind="process", state="idle")
    touch_worker(session, "w-stopped", kind="inprocess", state="stopped")
    session.execute(
        text("UPDATE benchmark_worker SET last_seen_at = :t WHERE worker_id = 'w-silent'"),
        {"t": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)},
    )
    session.commit()
    samples = scrape(client)
    assert value(samples, "ledger_worker_up", worker="w-alive", kind="process") == 1
    assert value(samples, "ledger_worker_up", worker="w-silent", kind="process") == 0
    assert value(samples, "ledger_worker_up", worker="w-stopped", kind="inprocess") == 0
    assert value(samples, "ledger_workers_alive") == 1
    age = value(samples, "ledger_worker_seconds_since_seen", worker="w-silent", kind="process")
    assert 100 < age < 200


def test_the_inprocess_worker_thread_has_its_own_gauge(client: TestClient) -> None:
    assert not any(name == "ledger_inprocess_worker_up" for name, _ in scrape(client))

    class Stub:
        status = "alive"

    client.app.state.worker_supervisor = Stub()  # type: ignore[attr-defined]
    assert value(scrape(client), "ledger_inprocess_worker_up") == 1
    Stub.status = "dead"
    assert value(scrape(client), "ledger_inprocess_worker_up") == 0


def test_http_series_match_prometheus_clients_own() -> None:
    """The dictionaries exported at scrape time give the very series the client would."""
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_fastapi_instrumentator.metrics import Info

    from app.ops.http_metrics import LATENCY_BUCKETS, HttpObservations

    ours, theirs = CollectorRegistry(), CollectorRegistry()
    observe = HttpObservations(ours, "ledger")
    count = Counter(
        "http_requests_total", "", ("handler", "method", "status"), namespace="ledger",
        registry=theirs,
    )  # fmt: skip
    latency = Histogram(
        "http_request_duration_seconds", "", ("handler", "method"), namespace="ledger",
        buckets=LATENCY_BUCKETS, registry=theirs,
    )  # fmt: skip
    durations = [0.0001, 0.005, 0.0051, 0.3, 10.0, 12.5, 0.01]
    for index, seconds in enumerate(durations):
        handler, status = ("/a", "200") if index % 2 else ("/b", "404")
        observe(
            Info(
                request=None, response=None, method="GET", modified_handler=handler,  # type: ignore[arg-type]
                modified_status=status, modified_duration=seconds,
                modified_duration_without_streaming=seconds,
            )
        )  # fmt: skip
        count.labels(handler, "GET", status).inc()
        latency.labels(handler, "GET").observe(seconds)

    def samples(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
        return {
            (s.name, tuple(sorted(s.labels.items())), round(s.value, 9))
            for family in registry.collect()
            for s in family.samples
            if not s.name.endswith("_created")
        }

    assert samples(ours) == samples(theirs)
