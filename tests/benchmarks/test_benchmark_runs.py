"""Benchmark runs through the API: queue, execute in a worker, store as evidence, cancel."""

import time

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.capabilities.test_capabilities import auth


def _drain(db_url: str) -> None:
    from app.benchmarks.worker import Worker
    from app.core.db import get_engine

    worker = Worker(get_engine(), name="test-worker")
    while worker.run_once():
        pass


def test_scenario_run_is_queued_executed_and_recorded_as_evidence(
    client: TestClient, write_token: str, db_url: str
) -> None:
    scenarios = client.get("/api/v1/scenarios").json()
    ids = {s["id"] for s in scenarios}
    assert {"exapod-gpt3-175b", "dojo-consistency", "tile-gpt-scaling"} <= ids
    before = client.get("/api/v1/capabilities/dojo-d1").json()["assessment"]["status"]

    started = client.post(
        "/api/v1/benchmark-runs",
        json={"scenario_id": "dojo-consistency"},
        headers=auth(write_token),
    )
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    assert client.get(location).json()["state"] == "queued"

    _drain(db_url)
    run = client.get(location).json()
    assert run["state"] == "succeeded", run
    assert run["progress"] == 1.0
    assert run["environment"]["runner_version"] == run["runner_version"]
    assert run["result"]["checks"]

    evidence = client.get("/api/v1/evidence?kind=simulation_run&limit=200").json()["items"]
    mine = [e for e in evidence if e["benchmark_run_id"] == run["id"]]
    assert mine and all(e["origin"] == "computed" for e in mine)
    assert all(e["counts_toward_status"] is False for e in mine)
    after = client.get("/api/v1/capabilities/dojo-d1").json()["assessment"]["status"]
    assert after == before  # a simulation never raises a status


def test_same_spec_gives_same_result(client: TestClient, write_token: str, db_url: str) -> None:
    spec = {
        "kind": "gemm",
        "hardware": "a100-80gb-dgx",
        "m": 8192,
        "n": 8192,
        "k": 8192,
        "precision": "bf16",
    }
    ids = []
    for _ in range(2):
        response = client.post(
            "/api/v1/benchmark-runs", json={"spec": spec}, headers=auth(write_token)
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    _drain(db_url)
    first, second = (client.get(f"/api/v1/benchmark-runs/{i}").json() for i in ids)
    assert first["state"] == "succeeded", first
    assert first["result"] == second["result"]


def test_bad_spec_names_the_field(client: TestClient, write_token: str, db_url: str) -> None:
    response = client.post(
        "/api/v1/benchmark-runs",
        json={"spec": {"kind": "gemm", "hardware": "a100-80gb-dgx"}},
        headers=auth(write_token),
    )
    if response.status_code == 202:  # validated when it runs
        _drain(db_url)
        run = client.get(response.headers["location"]).json()
        assert run["state"] == "failed" and run["error"]
    else:
        assert response.status_code == 422
        assert "spec." in response.json()["detail"]
    missing = client.post("/api/v1/benchmark-runs", json={}, headers=auth(write_token))
    assert missing.status_code == 422
    unknown = client.post(
        "/api/v1/benchmark-runs", json={"scenario_id": "nope"}, headers=auth(write_token)
    )
    assert unknown.status_code == 404


def test_cancel_a_queued_run(client: TestClient, write_token: str, db_url: str) -> None:
    started = client.post(
        "/api/v1/benchmark-runs",
        json={"scenario_id": "dojo-consistency"},
        headers=auth(write_token),
    ).json()
    cancelled = client.post(
        f"/api/v1/benchmark-runs/{started['id']}/cancel", headers=auth(write_token)
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    _drain(db_url)
    assert client.get(f"/api/v1/benchmark-runs/{started['id']}").json()["state"] == "cancelled"
    again = client.post(f"/api/v1/benchmark-runs/{started['id']}/cancel", headers=auth(write_token))
    assert again.status_code == 409


def test_stale_running_run_is_recovered(db_url: str, write_token: str, client: TestClient) -> None:
    from app.benchmarks import service
    from app.core.db import get_engine

    started = client.post(
        "/api/v1/benchmark-runs",
        json={"scenario_id": "dojo-consistency"},
        headers=auth(write_token),
    ).json()
    with Session(get_engine()) as session:
        claimed = service.claim_next(session, "worker-that-dies")
        assert claimed is not None and claimed.id == started["id"]
        assert service.claim_next(session, "second-worker") is None  # never twice
    time.sleep(2.1)  # timestamps are stored to the second
    with Session(get_engine()) as session:
        assert service.recover_stale(session, stale_after_s=1) == 1
    _drain(db_url)
    run = client.get(f"/api/v1/benchmark-runs/{started['id']}").json()
    assert run["state"] == "succeeded" and run["attempts"] == 2


def test_cli_run_is_stored_as_a_record(client: TestClient, db_url: str) -> None:
    import json

    from typer.testing import CliRunner

    from app.cli import cli

    result = CliRunner().invoke(cli, ["bench", "run", "dojo-consistency", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    runs = client.get("/api/v1/benchmark-runs?scenario_id=dojo-consistency").json()["items"]
    assert runs and runs[0]["state"] == "succeeded" and runs[0]["actor"] == "cli"
    assert runs[0]["result"]["checks"] == printed["checks"]
