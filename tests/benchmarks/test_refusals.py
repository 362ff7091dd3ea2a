"""A token its run quota refused is answered again from memory while the refusal must hold."""

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.benchmarks.refusals import RecentRefusals
from app.benchmarks.service import QUEUE_FULL_RETRY_SECONDS, QuotaRefused
from app.core.config import get_settings
from app.core.db import get_engine
from tests.capabilities.test_capabilities import auth

SPEC = {"spec": {"kind": "consistency"}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _refusal(holds_for: float) -> QuotaRefused:
    return QuotaRefused(
        "Too many runs", "limit", retry_after=int(holds_for) + 1, holds_for=holds_for
    )


def test_a_refusal_is_answered_again_until_it_stops_holding() -> None:
    clock = Clock()
    memory = RecentRefusals(clock=clock)
    memory.remember("Bearer a", _refusal(20.0))
    clock.now += 12.5
    with pytest.raises(QuotaRefused) as again:
        memory.check("Bearer a")
    assert again.value.headers == {"Retry-After": "8"}  # counts down, rounded up
    memory.check("Bearer b")  # another credential is not refused
    memory.check(None)
    clock.now += 7.5
    memory.check("Bearer a")  # the oldest run has left the window: ask the database again


def test_a_refusal_that_may_end_any_moment_is_not_remembered() -> None:
    memory = RecentRefusals(clock=Clock())
    memory.remember("Bearer a", _refusal(0.0))
    memory.check("Bearer a")


def _refused_once(
    client: TestClient, token: str, monkeypatch: pytest.MonkeyPatch, limit: str
) -> httpx.Response:
    """Set a run quota `limit` to 1, fill it, and return the refusal of the next submission."""
    monkeypatch.setenv(limit, "1")
    get_settings.cache_clear()
    assert client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(token)).is_success
    refused = client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(token))
    assert refused.status_code == 429
    return refused


def _submit_counting_quota_queries(
    client: TestClient, token: str
) -> tuple[httpx.Response, list[str]]:
    """Submit once more; return the answer and the token and quota statements it ran."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        # The token lookup and the quota queries; the app's own background work may run others.
        if "api_token" in statement or "benchmark_run" in statement:
            statements.append(statement)

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        answer = client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(token))
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    return answer, statements


def test_a_full_queue_is_answered_from_memory_for_its_retry_after_only(
    client: TestClient, write_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst against a full queue cost a token check and two queries per request."""
    full = _refused_once(client, write_token, monkeypatch, "LEDGER_RUNS_QUEUED_PER_TOKEN")
    assert full.headers["retry-after"] == str(QUEUE_FULL_RETRY_SECONDS)
    again, statements = _submit_counting_quota_queries(client, write_token)
    assert again.status_code == 429 and again.json()["detail"] == full.json()["detail"]
    assert int(again.headers["retry-after"]) <= QUEUE_FULL_RETRY_SECONDS
    assert statements == [], statements


def test_the_memory_is_bounded() -> None:
    clock = Clock()
    memory = RecentRefusals(capacity=3, clock=clock)
    for name in "abcd":
        memory.remember(f"Bearer {name}", _refusal(60.0))
    memory.check("Bearer a")  # the oldest was forgotten to make room
    for name in "bcd":
        with pytest.raises(QuotaRefused):
            memory.check(f"Bearer {name}")


def test_a_remembered_refusal_costs_no_query(
    client: TestClient, write_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _refused_once(client, write_token, monkeypatch, "LEDGER_RUNS_PER_MINUTE_PER_TOKEN")
    again, statements = _submit_counting_quota_queries(client, write_token)
    assert again.status_code == 429
    assert again.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(again.headers["retry-after"]) <= int(first.headers["retry-after"])
    assert again.json()["detail"] == first.json()["detail"]
    assert again.headers["x-content-type-options"] == "nosniff"  # inside the security headers
    assert statements == [], statements
