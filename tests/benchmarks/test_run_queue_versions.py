"""The run queue keeps its own version: queueing, claiming and progress leave ledger pages cached.

Only a finished run's evidence (one ledger write) moves the ledger's version. Versions are read
off the event loop, at most `versions.FRESH_S` behind another process's write, and ETags are
salted per deployment, not per process.
"""

import asyncio
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.benchmarks import flow, service
from app.benchmarks.models import BenchmarkRun, RunState
from app.capabilities.models import Capability
from app.core import versions
from app.core.db import get_engine, make_engine
from app.sim import api as sim
from app.status.history import data_version
from tests.capabilities.test_capabilities import auth

PAGE = "/capabilities/dojo-d1"  # the dojo-consistency scenario records evidence on it
API = "/api/v1/capabilities"


def _ledger_version() -> int:
    with Session(get_engine()) as session:
        return data_version(session)


def _unchanged(client: TestClient, url: str, etag: str) -> bool:
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code in (200, 304), response.text
    return response.status_code == 304


def test_the_run_queue_leaves_ledger_pages_cached_until_its_evidence_lands(
    client: TestClient, write_token: str, session: Session
) -> None:
    page_etag = client.get(PAGE).headers["etag"]
    api_etag = client.get(API).headers["etag"]
    runs_etag = client.get("/runs").headers["etag"]
    ledger = _ledger_version()

    queued = client.post(
        "/api/v1/benchmark-runs",
        json={"scenario_id": "dojo-consistency"},
        headers=auth(write_token),
    )
    assert queued.status_code == 202, queued.text
    run = service.claim_next(session, "test-worker")
    assert run is not None and run.id == queued.json()["id"]
    run_id, attempt, spec = run.id, run.attempts, dict(run.spec)
    for fraction in (0.25, 0.5, 0.75):
        held = service.report_progress(session, run_id, attempt, fraction, "going")
        assert held == service.Holding.held
        assert _unchanged(client, PAGE, page_etag)
        assert _unchanged(client, API, api_etag)
    assert service.heartbeat(session, run_id, attempt)
    assert _unchanged(client, PAGE, page_etag)
    assert _ledger_version() == ledger
    # The pages that show runs do follow the queue.
    assert not _unchanged(client, "/runs", runs_etag)
    assert "running" in client.get(f"{PAGE}/runs", headers={"HX-Request": "true"}).text

    assert flow.finish(
        session, run_id, attempt, state=RunState.succeeded, result=sim.evaluate(spec)
    )
    assert _ledger_version() == ledger + 1  # its evidence: one ledger write
    assert not _unchanged(client, PAGE, page_etag)
    assert not _unchanged(client, API, api_etag)
    evidence = client.get("/api/v1/evidence?kind=simulation_run&limit=200").json()["items"]
    assert any(item["benchmark_run_id"] == run_id for item in evidence)
    assert "succeeded" in client.get(f"{PAGE}/runs", headers={"HX-Request": "true"}).text


def test_a_failed_or_cancelled_run_moves_only_the_queue(
    client: TestClient, write_token: str, session: Session
) -> None:
    page_etag = client.get(PAGE).headers["etag"]
    for _ in range(2):
        client.post(
            "/api/v1/benchmark-runs",
            json={"scenario_id": "dojo-consistency"},
            headers=auth(write_token),
        )
    failed = service.claim_next(session, "test-worker")
    assert failed is not None and failed.id is not None
    assert flow.finish(session, failed.id, failed.attempts, state=RunState.failed, error="x")
    waiting = session.exec(
        select(BenchmarkRun).where(BenchmarkRun.state == RunState.queued.value)
    ).first()
    assert waiting is not None and waiting.id is not None
    cancelled = client.post(
        f"/api/v1/benchmark-runs/{waiting.id}/cancel", headers=auth(write_token)
    )
    assert cancelled.status_code == 200, cancelled.text
    assert _unchanged(client, PAGE, page_etag)


def test_the_capability_page_loads_its_runs_on_their_own(client: TestClient) -> None:
    page = client.get(PAGE).text
    assert f'hx-get="{PAGE}/runs"' in page
    standalone = client.get(f"{PAGE}/runs")
    assert standalone.status_code == 200
    assert "<h1>" in standalone.text and 'id="recent-runs"' in standalone.text
    fragment = client.get(
        f"{PAGE}/runs", headers={"HX-Request": "true", "HX-Target": "recent-runs"}
    )
    assert fragment.status_code == 200 and "<h1>" not in fragment.text
    assert client.get("/capabilities/no-such-thing/runs").status_code == 404


def test_queueing_the_bundled_runs_locks_without_moving_the_ledger(db_url: str) -> None:
    """Two processes starting at once queue each scenario once; no ledger page is emptied."""
    ledger = _ledger_version()
    barrier = threading.Barrier(2)
    queued: list[list[int]] = []
    failures: list[BaseException] = []

    def queue() -> None:
        engine = make_engine(db_url)  # another process's connections
        try:
            with Session(engine) as session:
                barrier.wait()
                queued.append(service.queue_bundled_scenarios(session, again=True))
        except BaseException as exc:
            failures.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=queue) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert sorted(len(ids) for ids in queued) == [0, len(service.scenarios())]
    with Session(get_engine()) as session:
        waiting = session.exec(
            select(BenchmarkRun.scenario_id).where(
                BenchmarkRun.actor == service.BUNDLED_ACTOR,
                col(BenchmarkRun.state) == RunState.queued.value,
            )
        ).all()
    assert len(waiting) == len(set(waiting))
    assert _ledger_version() == ledger


def test_versions_are_read_in_a_thread_never_on_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/api/v1/capabilities").status_code == 200  # now cached
    real_read = versions.watch.probe.read
    on_loop: list[bool] = []

    def read() -> tuple[int, int]:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return real_read()

    monkeypatch.setattr(versions.watch.probe, "read", read)
    for url in ("/api/v1/capabilities", "/api/v1/claims?limit=5", "/claims", "/runs"):
        versions.watch.expire()
        assert client.get(url).status_code == 200
    assert on_loop and not any(on_loop)


def test_a_write_by_another_process_shows_once_the_staleness_bound_passes(
    client: TestClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write no hook of this process saw: served within `FRESH_S`, not a moment later."""
    now = [1000.0]
    monkeypatch.setattr(versions.watch, "clock", lambda: now[0])
    versions.watch.expire()
    assert "elsewhere" not in client.get("/api/v1/capabilities").text
    reads: list[Any] = []
    real_read = versions.watch.probe.read
    monkeypatch.setattr(versions.watch.probe, "read", lambda: reads.append(1) or real_read())

    other_process = make_engine(db_url)
    with Session(other_process) as other:
        other.add(Capability(slug="elsewhere", name="Elsewhere", kind="chip"))
        # The counter moved by hand: nothing in this process hears of this commit.
        other.execute(text("UPDATE data_version SET counter = counter + 1 WHERE id = 1"))
        other.commit()
    other_process.dispose()

    client.get("/api/v1/capabilities")
    assert not reads  # within the bound: no database round trip at all
    now[0] += versions.FRESH_S * 1.01
    assert "elsewhere" in client.get("/api/v1/capabilities").text
    assert len(reads) == 1


def test_etags_are_the_same_in_every_worker_of_a_deployment(db_url: str) -> None:
    """Two app instances (two workers) give a page and a list the same ETag."""
    from app.core import cache
    from app.main import create_app

    etags = []
    for _ in range(2):
        cache.clear()  # each worker renders for itself
        with TestClient(create_app()) as worker:
            etags.append((worker.get(PAGE).headers["etag"], worker.get(API).headers["etag"]))
    assert etags[0] == etags[1]
    assert versions.deployment_salt() == versions.deployment_salt.__wrapped__()


def test_requests_that_find_the_versions_stale_share_one_read(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One thread hand-off per staleness bound, however many requests arrive meanwhile.

    The clock stands still, so the bound cannot pass during the burst (on a loaded machine
    20 requests take longer than `FRESH_S`, and a request after the bound rightly reads
    again), and the read is held until every request has found the versions stale, so
    all 20 arrive while it is in flight.
    """
    import httpx

    burst_size = 20
    assert client.get("/api/v1/capabilities").status_code == 200  # now cached
    monkeypatch.setattr(versions.watch, "clock", lambda: 1000.0)
    hand_offs: list[object] = []
    real = versions.run_in_threadpool

    async def counted(function: Any, *args: Any) -> Any:
        hand_offs.append(function)
        return await real(function, *args)

    monkeypatch.setattr(versions, "run_in_threadpool", counted)
    arrived: list[int] = []
    all_arrived = threading.Event()
    real_current = versions.watch.current

    async def current() -> versions.Versions:
        arrived.append(1)
        if len(arrived) == burst_size:
            all_arrived.set()
        return await real_current()

    monkeypatch.setattr(versions.watch, "current", current)
    real_read = versions.watch.probe.read

    def held_read() -> tuple[int, int]:
        all_arrived.wait(timeout=30)  # a safety net: a request that never asks fails below
        return real_read()

    monkeypatch.setattr(versions.watch.probe, "read", held_read)

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            versions.watch.expire()
            answers = await asyncio.gather(
                *(http.get("/api/v1/capabilities") for _ in range(burst_size))
            )
        return [answer.status_code for answer in answers]

    assert asyncio.run(burst()) == [200] * burst_size
    assert all_arrived.is_set()  # every request found the versions stale before the read
    assert len(hand_offs) == 1


@pytest.mark.parametrize("url", ["/claims", "/api/v1/claims?limit=5", "/capabilities/dojo-d1"])
def test_a_cache_hit_answers_with_the_headers_of_the_first_answer(
    client: TestClient, url: str
) -> None:
    """The cache sits outside the layers that add security headers: a hit replays them."""
    per_request = {"x-request-id", "date"}

    def headers(response: Any) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k not in per_request}

    first = client.get(url)
    again = client.get(url)
    assert first.status_code == again.status_code == 200
    assert headers(again) == headers(first)
    assert again.content == first.content
    assert "x-content-type-options" in again.headers
    if not url.startswith("/api/"):
        assert "content-security-policy" in again.headers
    zipped = [client.get(url, headers={"Accept-Encoding": "gzip"}) for _ in range(2)]
    assert headers(zipped[1]) == headers(zipped[0])
    assert zipped[1].content == first.content  # decoded by the client
    unchanged = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304
    assert unchanged.headers["x-content-type-options"] == "nosniff"


def test_the_run_list_is_cached_at_the_queue_version(
    client: TestClient, write_token: str, session: Session
) -> None:
    url = "/api/v1/benchmark-runs?limit=20"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["etag"]
    assert _unchanged(client, url, first.headers["etag"])
    queued = client.post(
        "/api/v1/benchmark-runs",
        json={"scenario_id": "dojo-consistency"},
        headers=auth(write_token),
    )
    assert queued.status_code == 202, queued.text
    assert not _unchanged(client, url, first.headers["etag"])  # a new run: a new list
    listed = client.get(url).json()["items"]
    assert listed[0]["id"] == queued.json()["id"] and listed[0]["state"] == "queued"
    etag = client.get(url).headers["etag"]
    run = service.claim_next(session, "test-worker")
    assert run is not None and run.id is not None
    assert service.report_progress(session, run.id, run.attempts, 0.5, "half")
    assert not _unchanged(client, url, etag)  # progress moves the queue's version
    assert client.get(url).json()["items"][0]["progress"] == 0.5
