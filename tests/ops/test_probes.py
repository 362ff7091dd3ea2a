"""/healthz and /readyz: process up; database reachable and migrations at head, else 503."""

import datetime as dt

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.core.db import get_engine
from app.ops.health import MIGRATIONS
from tests.conftest import _reset_caches
from tests.ops.helpers import free_port, make_ops_app

HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_healthz_answers_without_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", "sqlite:////nonexistent-dir/ledger.db")
    _reset_caches()
    try:
        response = TestClient(make_ops_app()).get("/healthz")
    finally:
        monkeypatch.undo()
        _reset_caches()
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_real_app_has_the_probes_and_is_ready_at_head(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"] == {"database": "ok", "migrations": "ok", "worker": "disabled"}
    assert body["revision"] == [HEAD]


def test_readyz_503_when_the_schema_is_behind_head(client: TestClient) -> None:
    head = ScriptDirectory(str(MIGRATIONS)).get_revision(HEAD)
    assert head is not None
    with get_engine().begin() as conn:
        if head.down_revision:
            conn.execute(
                text("UPDATE alembic_version SET version_num = :rev"),
                {"rev": head.down_revision},
            )
        else:
            conn.execute(text("DELETE FROM alembic_version"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 503
    assert body["checks"] == {"database": "ok", "migrations": "not_at_head"}
    assert body["expected"] == [HEAD]
    assert HEAD not in body["current"]
    assert "ledger db upgrade" in body["detail"]


def test_readyz_503_on_a_database_that_was_never_migrated(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    _reset_caches()
    try:
        response = TestClient(make_ops_app()).get("/readyz")
    finally:
        monkeypatch.undo()
        _reset_caches()
    assert response.status_code == 503
    assert response.json()["current"] == []
    assert response.json()["checks"]["migrations"] == "not_at_head"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_readyz_503_when_the_database_is_unreachable(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "sqlite":
        url = "sqlite:////nonexistent-dir/ledger.db"
    else:
        # Nothing listens on this loopback port: the connection is refused at once.
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ledger?connect_timeout=3"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    _reset_caches()
    try:
        response = TestClient(make_ops_app()).get("/readyz")
    finally:
        monkeypatch.undo()
        _reset_caches()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["checks"]["database"] == "unreachable"
    assert body["title"] == "Not ready"


class _StubSupervisor:
    def __init__(self, status: str) -> None:
        self.status = status


@pytest.mark.parametrize("status", ["alive", "restarting"])
def test_readyz_reports_a_live_or_restarting_worker_thread(client: TestClient, status: str) -> None:
    client.app.state.worker_supervisor = _StubSupervisor(status)  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["worker"] == status


def test_readyz_503_when_the_worker_thread_is_dead_for_good(client: TestClient) -> None:
    client.app.state.worker_supervisor = _StubSupervisor("dead")  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["checks"]["worker"] == "dead"


def test_readyz_lists_each_worker_and_whether_it_is_alive(client: TestClient) -> None:
    from sqlmodel import Session

    from app.benchmarks.service import touch_worker

    with Session(get_engine()) as session:
        touch_worker(session, "live-one", kind="process", state="idle")
        touch_worker(session, "gone", kind="process", state="stopped")
        touch_worker(session, "silent", kind="inprocess", state="running", run_id=1)
        session.execute(
            text("UPDATE benchmark_worker SET last_seen_at = :t WHERE worker_id = 'silent'"),
            {"t": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)},
        )
        session.commit()
    workers = {w["id"]: w for w in client.get("/readyz").json()["workers"]}
    assert workers["live-one"]["alive"] is True
    assert workers["gone"]["alive"] is False
    assert workers["silent"]["alive"] is False and workers["silent"]["kind"] == "inprocess"


def test_a_database_outage_answers_503_not_500() -> None:
    from sqlalchemy.exc import OperationalError

    app = make_ops_app()

    @app.get("/needs-the-database")
    def needs_the_database() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    response = TestClient(app, raise_server_exceptions=False).get("/needs-the-database")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"].startswith("application/problem+json")
