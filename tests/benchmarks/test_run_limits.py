"""Issue 19 §1 reproductions through the API: quotas, bounded notes, compressed results,
summarised run pages and the run list's capability filter read a page at a time."""

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from app.benchmarks import flow, refusals, service
from app.benchmarks.models import RunState
from app.core.config import get_settings
from app.core.db import get_engine
from tests.capabilities.test_capabilities import auth

SPEC = {"spec": {"kind": "consistency"}}


def test_submissions_per_minute_are_limited_per_token(
    client: TestClient, write_token: str, read_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 runs from one token were accepted in 3 s."""
    monkeypatch.setenv("LEDGER_RUNS_PER_MINUTE_PER_TOKEN", "3")
    get_settings.cache_clear()
    answers = [
        client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(write_token))
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    refused = answers[3]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert "LEDGER_RUNS_PER_MINUTE_PER_TOKEN" in refused.json()["detail"]


def test_queued_runs_are_limited_per_token(
    client: TestClient, write_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_RUNS_QUEUED_PER_TOKEN", "2")
    get_settings.cache_clear()
    first = client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(write_token))
    client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(write_token))
    third = client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(write_token))
    assert third.status_code == 429, third.text
    wait = int(third.headers["retry-after"])
    assert wait == service.QUEUE_FULL_RETRY_SECONDS
    # A cancelled run frees its place, for a client that waits as its Retry-After asked.
    client.post(f"/api/v1/benchmark-runs/{first.json()['id']}/cancel", headers=auth(write_token))
    early = client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(write_token))
    assert early.status_code == 429  # answered from memory, without a query
    monkeypatch.setattr(refusals.REFUSALS, "clock", lambda: time.monotonic() + wait)
    again = client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(write_token))
    assert again.status_code == 202, again.text


@pytest.mark.parametrize(
    "note",
    [
        "{checks:20000}",  # a width of 20,000 made its run fail and retry forever
        "{checks:>99999999}",
        "{checks:.500f}",
        "{checks:!r}",
    ],
)
def test_a_comparison_note_with_an_unbounded_format_is_refused(
    client: TestClient, write_token: str, note: str
) -> None:
    spec = {
        "kind": "consistency",
        "compare": [{"claim": "d1-tdp-400-w", "field": "checks", "note": note}],
    }
    response = client.post("/api/v1/benchmark-runs", json={"spec": spec}, headers=auth(write_token))
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith("spec.compare[0].note")


def test_a_bounded_note_is_accepted(client: TestClient, write_token: str) -> None:
    spec = {
        "kind": "consistency",
        "compare": [{"claim": "d1-tdp-400-w", "field": "checks", "note": "{tolerance:>12.3g}"}],
    }
    response = client.post("/api/v1/benchmark-runs", json={"spec": spec}, headers=auth(write_token))
    assert response.status_code == 202, response.text


def _store_large_result(points: int) -> int:
    with Session(get_engine()) as session:
        run = service.new_run(
            service.BenchmarkRunCreate(scenario_id="tile-gpt-scaling"), actor="token:tester"
        )
        session.add(run)
        session.commit()
        session.refresh(run)
        assert run.id is not None
        claimed = service.claim_next(session, "test")
        assert claimed is not None and claimed.id == run.id
        result = {
            "kind": "llm-scaling",
            "points": [
                {"chips": i + 1, "efficiency": 1 / (1 + i / 1e4), "step_time_s": 0.5 + i}
                for i in range(points)
            ],
        }
        flow.finish(session, run.id, claimed.attempts, state=RunState.succeeded, result=result)
        return run.id


def test_a_large_result_is_stored_compressed_and_read_back_whole(
    client: TestClient, db_url: str
) -> None:
    """A 60 KB scaling request stored a 3.3 MB result."""
    run_id = _store_large_result(40_000)
    with Session(get_engine()) as session:
        raw = session.execute(
            text("SELECT result FROM benchmark_run WHERE id = :id"), {"id": run_id}
        ).scalar_one()
    stored = raw if isinstance(raw, str) else str(raw)
    assert "$gzip" in stored
    assert len(stored) < 1_000_000
    got = client.get(f"/api/v1/benchmark-runs/{run_id}").json()
    assert len(got["result"]["points"]) == 40_000


def test_the_run_page_summarises_a_large_result(client: TestClient, db_url: str) -> None:
    """Its page rendered 5.9 MB."""
    run_id = _store_large_result(40_000)
    page = client.get(f"/runs/{run_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert len(page.content) < 400_000, len(page.content)
    assert f'href="/api/v1/benchmark-runs/{run_id}"' in page.text


def test_the_capability_filter_reads_a_page_at_a_time(client: TestClient, write_token: str) -> None:
    """The filter read up to 10,000 runs and filtered them in Python, with no next page."""
    scenarios = [
        s for s in client.get("/api/v1/scenarios").json() if "dojo-d1" in s["capabilities"]
    ]
    assert scenarios
    for _ in range(3):
        response = client.post(
            "/api/v1/benchmark-runs",
            json={"scenario_id": scenarios[0]["id"]},
            headers=auth(write_token),
        )
        assert response.status_code == 202
    client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(write_token))  # bears on none
    seen: list[Any] = []
    url = "/api/v1/benchmark-runs?capability=dojo-d1&limit=1"
    while url and len(seen) < 10:
        page = client.get(url).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        url = f"/api/v1/benchmark-runs?capability=dojo-d1&limit=1&cursor={cursor}" if cursor else ""
    assert len(seen) == 3
    assert all("dojo-d1" in r["capability_slugs"] for r in seen)


def test_a_concurrent_burst_gets_no_more_than_the_quota(
    client: TestClient, write_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent submissions all passed the count before any was added."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("LEDGER_RUNS_QUEUED_PER_TOKEN", "3")
    get_settings.cache_clear()

    def submit(_: int) -> int:
        with TestClient(client.app) as own:
            response = own.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(write_token))
            return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(submit, range(16)))
    assert codes.count(202) == 3, codes
    assert set(codes) == {202, 429}, codes
