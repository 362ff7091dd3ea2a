"""A run that repeats the latest original run of its spec, figure for figure, is one check.

It records no evidence, moves no ledger version (ledger pages stay cached), and names the run it
repeated, on the API and on its page; the ledger goes on citing the original. A run records its
own check when the original's evidence has since been edited, or when its spec differs.
"""

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.benchmarks import flow, service
from app.benchmarks.models import BenchmarkRun, RunState
from app.core.db import get_engine
from app.evidence.models import Evidence
from app.sim import api as sim
from app.status.history import data_version
from tests.benchmarks.one_check import evidence_count
from tests.capabilities.test_capabilities import auth

SCENARIO = "dojo-consistency"  # tests figures of the D1 and records evidence on them
PAGE = "/capabilities/dojo-d1"


def _run_once(client: TestClient, session: Session, token: str, **body: Any) -> int:
    """Submit a run through the API, then execute and finish it as a worker does."""
    queued = client.post("/api/v1/benchmark-runs", json=body, headers=auth(token))
    assert queued.status_code == 202, queued.text
    run = service.claim_next(session, "test-worker")
    assert run is not None and run.id == queued.json()["id"]
    run_id, attempt, spec = run.id, run.attempts, dict(run.spec)
    finished = flow.finish(
        session, run_id, attempt, state=RunState.succeeded, result=sim.evaluate(spec)
    )
    assert finished is not None and finished.state == "succeeded"
    return run_id


def _evidence_of(session: Session, run_id: int) -> int:
    session.expire_all()
    return evidence_count(session, run_id)


def _ledger_version() -> int:
    with Session(get_engine()) as session:
        return data_version(session)


def test_a_repeated_run_records_nothing_and_names_the_run_it_repeats(
    client: TestClient, write_token: str, session: Session
) -> None:
    first = _run_once(client, session, write_token, scenario_id=SCENARIO)
    recorded = _evidence_of(session, first)
    assert recorded > 0
    ledger = _ledger_version()
    page_etag = client.get(PAGE).headers["etag"]

    second = _run_once(client, session, write_token, scenario_id=SCENARIO)
    third = _run_once(client, session, write_token, scenario_id=SCENARIO)

    assert _evidence_of(session, second) == _evidence_of(session, third) == 0
    assert _evidence_of(session, first) == recorded
    for repeat in (second, third):  # each names the original, not the repeat before it
        api = client.get(f"/api/v1/benchmark-runs/{repeat}").json()
        assert api["reproduces_run_id"] == first
        page = client.get(f"/runs/{repeat}").text
        assert 'id="run-reproduces"' in page and f'href="/runs/{first}"' in page
    assert client.get(f"/api/v1/benchmark-runs/{first}").json()["reproduces_run_id"] is None
    listed = client.get("/runs").text  # the list says which runs repeat which
    assert listed.count(f'repeats <a href="/runs/{first}">#{first}</a>') == 2
    runs_part = client.get(f"{PAGE}/runs").text
    assert f"repeats run {first}, no new evidence" in runs_part
    assert 'id="run-reproduces"' not in client.get(f"/runs/{first}").text
    # Nothing a ledger page shows changed: its version and its ETag stay; the claims cite `first`.
    assert _ledger_version() == ledger
    assert client.get(PAGE, headers={"If-None-Match": page_etag}).status_code == 304
    cited = {
        c["run_id"]
        for rows in service.latest_comparisons_for_claims(session).values()
        for c in rows
    }
    assert first in cited and not cited & {second, third}


def test_a_run_records_its_check_again_when_the_original_evidence_was_edited(
    client: TestClient, write_token: str, session: Session
) -> None:
    first = _run_once(client, session, write_token, scenario_id=SCENARIO)
    item = session.exec(select(Evidence).where(col(Evidence.benchmark_run_id) == first)).first()
    assert item is not None and item.id is not None
    url = f"/api/v1/evidence/{item.id}"
    etag = client.get(url).headers["etag"]
    edited = client.patch(url, json={"summary": "Edited by hand."}, headers=auth(write_token, etag))
    assert edited.status_code == 200, edited.text

    again = _run_once(client, session, write_token, scenario_id=SCENARIO)

    assert _evidence_of(session, again) == _evidence_of(session, first)
    assert client.get(f"/api/v1/benchmark-runs/{again}").json()["reproduces_run_id"] is None


def test_a_run_of_another_spec_is_a_check_of_its_own(
    client: TestClient, write_token: str, session: Session
) -> None:
    spec = service.scenario_spec(service.scenario(SCENARIO))
    first = _run_once(client, session, write_token, spec=spec)
    other = _run_once(client, session, write_token, spec={**spec, "title": "another title"})
    same = _run_once(client, session, write_token, spec=spec)  # after another spec's run

    assert _evidence_of(session, first) > 0
    assert _evidence_of(session, other) == _evidence_of(session, first)
    assert _evidence_of(session, same) == 0
    runs = {r.id: r for r in session.exec(select(BenchmarkRun)).all()}
    assert runs[other].reproduces_run_id is None
    assert runs[same].reproduces_run_id == first
    assert runs[first].spec_digest != runs[other].spec_digest
