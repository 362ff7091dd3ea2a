"""The bundled scenarios are queued once on seed, again when the runner changes, and on demand."""

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from app.benchmarks import service
from app.benchmarks.models import BenchmarkRun
from app.cli import cli
from app.sim import api as sim


def _bundled(session: Session) -> list[BenchmarkRun]:
    session.expire_all()
    return list(
        session.exec(
            select(BenchmarkRun)
            .where(BenchmarkRun.actor == service.BUNDLED_ACTOR)
            .order_by(col(BenchmarkRun.id))
        ).all()
    )


def test_seed_queues_every_bundled_scenario_once(db_url: str, session: Session) -> None:
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(cli, ["seed"], catch_exceptions=False)
        assert result.exit_code == 0
    runs = _bundled(session)
    assert sorted(r.scenario_id or "" for r in runs) == sorted(
        s["id"] for s in sim.list_scenarios()
    )
    assert {r.state for r in runs} == {"queued"}
    assert {r.runner_version for r in runs} == {sim.RUNNER_VERSION}
    assert service.bundled_runner_version(session) == sim.RUNNER_VERSION


def test_a_new_runner_version_queues_them_again_at_start_up(
    db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.benchmarks.setup import requeue_bundled_runs

    requeue_bundled_runs()
    assert _bundled(session) == []  # never seeded with them: start-up adds nothing
    first = service.queue_bundled_scenarios(session)
    requeue_bundled_runs()
    assert len(_bundled(session)) == len(first)  # same runner: nothing new

    monkeypatch.setattr(sim, "RUNNER_VERSION", "99.0.0")
    requeue_bundled_runs()
    runs = _bundled(session)
    assert len(runs) == 2 * len(first)
    assert {r.runner_version for r in runs[len(first) :]} == {"99.0.0"}
    requeue_bundled_runs()
    assert len(_bundled(session)) == 2 * len(first)


def test_the_app_requeues_at_start_up(
    db_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.config import get_settings
    from app.main import create_app

    first = service.queue_bundled_scenarios(session)
    monkeypatch.setattr(sim, "RUNNER_VERSION", "99.0.0")
    monkeypatch.setenv("LEDGER_METRICS_TOKEN", "bundled-runs-ops-token")  # /readyz's details
    get_settings.cache_clear()
    ops = {"Authorization": "Bearer bundled-runs-ops-token"}
    with TestClient(create_app()) as client:  # runs go to `ledger worker` processes here
        assert client.get("/readyz", headers=ops).json()["checks"]["worker"] == "disabled"
    monkeypatch.setenv("LEDGER_INPROCESS_WORKER", "true")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            worker = client.get("/readyz", headers=ops).json()["checks"]["worker"]
            assert worker in {"alive", "restarting"}
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    versions = [r.runner_version for r in _bundled(session)]
    assert versions.count("99.0.0") == len(first)


def test_bench_rerun_queues_them_again_on_demand(db_url: str, session: Session) -> None:
    first = service.queue_bundled_scenarios(session)
    runner = CliRunner()
    result = runner.invoke(cli, ["bench", "rerun"], catch_exceptions=False)
    assert json.loads(result.stdout) == {"queued": []}  # all still waiting in the queue
    for run in _bundled(session):
        run.state = "succeeded"
        session.add(run)
    session.commit()
    result = runner.invoke(cli, ["bench", "rerun"], catch_exceptions=False)
    assert len(json.loads(result.stdout)["queued"]) == len(first)
