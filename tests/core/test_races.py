"""Races with real concurrent clients: 32 writers against a live uvicorn, on both databases.

Every guarded write must have exactly one winner; the losers get 412 (API) or the stale-form
answer (dashboard), and the history grows by exactly the winner's rows.
"""

import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from tests.ops.helpers import live_app

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 32


class Live:
    """A uvicorn process serving the app on the test's database."""

    def __init__(self, base: str, db_url: str, token: str) -> None:
        self.base = base
        self.db_url = db_url
        self.token = token

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def history_rows(self) -> int:
        from app.core.db import make_engine
        from app.history.models import StatusChange

        engine = make_engine(self.db_url)
        with Session(engine) as session:
            count = session.exec(select(func.count()).select_from(StatusChange)).one()
        engine.dispose()
        return int(count)


@pytest.fixture
def live(db_url: str, write_token: str) -> Iterator[Live]:
    env = {**os.environ, "LEDGER_DATABASE_URL": db_url, "LEDGER_LOG_LEVEL": "WARNING"}
    with live_app(env, "/api/v1/status-levels", timeout=60) as base:
        yield Live(base, db_url, write_token)


def race(send: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
    """Fire WRITERS requests at once (each on its own connection) and return the answers."""
    barrier = threading.Barrier(WRITERS)
    answers: list[httpx.Response | BaseException] = [RuntimeError("not run")] * WRITERS

    def writer(index: int) -> None:
        with httpx.Client(timeout=120) as client:
            barrier.wait()
            try:
                answers[index] = send(client, index)
            except BaseException as exc:
                answers[index] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [a for a in answers if isinstance(a, BaseException)]
    assert not failures, failures[:3]
    return [a for a in answers if isinstance(a, httpx.Response)]


def codes(answers: list[httpx.Response]) -> Counter[int]:
    return Counter(a.status_code for a in answers)


# Not critical to its parent and without parts: an override moves only its own status.
OVERRIDDEN = "dojo-interface-processor"


def test_status_update_race_has_one_winner(live: Live) -> None:
    slug = OVERRIDDEN
    current = httpx.get(f"{live.base}/api/v1/capabilities/{slug}")
    etag, version = current.headers["etag"], current.json()["version"]
    history_before = live.history_rows()

    answers = race(
        lambda client, i: client.post(
            f"{live.base}/api/v1/capabilities/{slug}/status",
            json={"status": "aspirational", "reason": f"Race writer {i}"},
            headers=live.headers(**{"If-Match": etag}),
        )
    )

    assert codes(answers) == Counter({200: 1, 412: WRITERS - 1})
    assert live.history_rows() == history_before + 1
    after = httpx.get(f"{live.base}/api/v1/capabilities/{slug}").json()
    assert after["version"] == version + 1  # one write bumps the version by exactly one


def _patch_target(live: Live, kind: str) -> tuple[str, dict[str, str]]:
    """Return the URL of one entity of this kind and a body that edits it harmlessly."""
    if kind == "capabilities":
        return f"{live.base}/api/v1/capabilities/dojo-d1", {"description": "Race edit"}
    if kind == "events":
        return f"{live.base}/api/v1/events/ai-day-2021", {"venue": "Race edit"}
    if kind == "claims":
        return f"{live.base}/api/v1/claims/d1-peak-bf16-362-tflops", {"text": "Race edit"}
    first = httpx.get(f"{live.base}/api/v1/evidence", params={"limit": 1}).json()["items"][0]
    return f"{live.base}/api/v1/evidence/{first['id']}", {"summary": "Race edit"}


@pytest.mark.parametrize("kind", ["capabilities", "events", "claims", "evidence"])
def test_patch_race_has_one_winner(live: Live, kind: str) -> None:
    url, body = _patch_target(live, kind)
    current = httpx.get(url)
    etag, version = current.headers["etag"], current.json()["version"]
    history_before = live.history_rows()

    answers = race(
        lambda client, i: client.patch(url, json=body, headers=live.headers(**{"If-Match": etag}))
    )

    assert codes(answers) == Counter({200: 1, 412: WRITERS - 1})
    assert httpx.get(url).json()["version"] == version + 1
    assert live.history_rows() == history_before  # a harmless edit moves no status


def test_dashboard_status_form_race_has_one_winner(live: Live) -> None:
    slug = OVERRIDDEN
    with httpx.Client(base_url=live.base, timeout=60) as browser:
        signin = browser.get("/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', signin.text)
        assert csrf is not None
        signed_in = browser.post(
            "/signin", data={"token": live.token, "next": "/", "csrf_token": csrf.group(1)}
        )
        assert signed_in.status_code in (302, 303)
        form = browser.get(f"/capabilities/{slug}/status")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        version = re.search(r'name="version" value="(\d+)"', form.text)
        assert csrf is not None and version is not None
        cookies = dict(browser.cookies)
    history_before = live.history_rows()

    answers = race(
        lambda client, i: client.post(
            f"{live.base}/capabilities/{slug}/status",
            data={
                "version": version.group(1),
                "status": "aspirational",
                "reason_code": "editorial_review",
                "reason": f"Race writer {i}",
                "csrf_token": csrf.group(1),
            },
            cookies=cookies,
        )
    )

    assert codes(answers) == Counter({303: 1, 409: WRITERS - 1})
    assert live.history_rows() == history_before + 1


def test_concurrent_evidence_without_slug_all_succeed(live: Live) -> None:
    body = {
        "title": "Same title from every writer",
        "kind": "third_party_report",
        "origin": "reported",
        "grade": "S",
        "date": "2024-05-01",
        "stance": "supports",
        "level": "built",
        "capability": "dojo-interface-processor",
    }
    answers = race(
        lambda client, i: client.post(
            f"{live.base}/api/v1/evidence", json=body, headers=live.headers()
        )
    )
    assert codes(answers) == Counter({201: WRITERS})
    slugs = {a.json()["slug"] for a in answers}
    assert len(slugs) == WRITERS


def test_concurrent_evidence_writes_a_transition_once(live: Live) -> None:
    slug = "dojo-interface-processor"
    before = httpx.get(f"{live.base}/api/v1/capabilities/{slug}").json()["assessment"]["status"]
    assert before != "benchmarked"
    history_before = live.history_rows()
    body = {
        "kind": "benchmark_result",
        "origin": "reported",
        "grade": "S",
        "date": "2025-01-15",
        "stance": "supports",
        "level": "benchmarked",
        "capability": slug,
    }

    answers = race(
        lambda client, i: client.post(
            f"{live.base}/api/v1/evidence",
            json={**body, "title": f"Benchmark report {i}"},
            headers=live.headers(),
        )
    )

    assert codes(answers) == Counter({201: WRITERS})
    history = httpx.get(
        f"{live.base}/api/v1/capabilities/{slug}/history", params={"sort": "-recorded_at"}
    ).json()["items"]
    moved = [row for row in history if row["to_status"] == "benchmarked"]
    assert len(moved) == 1
    assert moved[0]["from_status"] == before
    # The DIP is not critical, so its parent's roll-up does not move: one row in all.
    assert live.history_rows() == history_before + 1
