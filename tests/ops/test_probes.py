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


OPS_TOKEN = "ops-token-for-the-probe-tests"
DETAILS = {"Authorization": f"Bearer {OPS_TOKEN}"}


@pytest.fixture
def details(read_token: str) -> dict[str, str]:
    """Headers that may read /readyz's details: any API token."""
    return {"Authorization": f"Bearer {read_token}"}


def test_real_app_has_the_probes_and_is_ready_at_head(
    client: TestClient, details: dict[str, str]
) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz", headers=details)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"] == {"database": "ok", "migrations": "ok", "worker": "disabled"}
    assert body["revision"] == [HEAD]


def test_readyz_503_when_the_schema_is_behind_head(
    client: TestClient, details: dict[str, str]
) -> None:
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
    response = client.get("/readyz", headers=details)
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
    monkeypatch.setenv("LEDGER_METRICS_TOKEN", OPS_TOKEN)
    _reset_caches()
    try:
        response = TestClient(make_ops_app()).get("/readyz", headers=DETAILS)
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
    monkeypatch.setenv("LEDGER_METRICS_TOKEN", OPS_TOKEN)
    _reset_caches()
    try:
        app = make_ops_app()
        response = TestClient(app).get("/readyz", headers=DETAILS)
        public = TestClient(app).get("/readyz")
        stranger = TestClient(app).get("/readyz", headers={"Authorization": "Bearer guess"})
    finally:
        monkeypatch.undo()
        _reset_caches()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["checks"]["database"] == "unreachable"
    assert body["title"] == "Not ready"
    # Anyone learns "not ready"; only a token learns why (the host and port are in the reason).
    for answer in (public, stranger):
        assert answer.status_code == 503
        assert answer.json()["title"] == "Not ready"
        assert "checks" not in answer.json()
        assert "127.0.0.1" not in answer.text and "nonexistent" not in answer.text


class _StubSupervisor:
    def __init__(self, status: str) -> None:
        self.status = status


@pytest.mark.parametrize("status", ["alive", "restarting"])
def test_readyz_reports_a_live_or_restarting_worker_thread(
    client: TestClient, status: str, details: dict[str, str]
) -> None:
    client.app.state.worker_supervisor = _StubSupervisor(status)  # type: ignore[attr-defined]
    response = client.get("/readyz", headers=details)
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["worker"] == status


def test_readyz_503_when_the_worker_thread_is_dead_for_good(
    client: TestClient, details: dict[str, str]
) -> None:
    client.app.state.worker_supervisor = _StubSupervisor("dead")  # type: ignore[attr-defined]
    response = client.get("/readyz", headers=details)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["checks"]["worker"] == "dead"


def test_readyz_lists_each_worker_and_whether_it_is_alive(
    client: TestClient, details: dict[str, str]
) -> None:
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
    workers = {w["id"]: w for w in client.get("/readyz", headers=details).json()["workers"]}
    assert workers["live-one"]["alive"] is True
    assert workers["gone"]["alive"] is False
    assert workers["silent"]["alive"] is False and workers["silent"]["kind"] == "inprocess"


def test_public_readyz_says_ready_and_nothing_more(client: TestClient) -> None:
    """The revisions, checks and workers were shown to anyone; now they need a token."""
    for headers in ({}, {"Authorization": "Bearer ledger_00000000_not-a-token"}):
        response = client.get("/readyz", headers=headers)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_metrics_is_protected_by_a_configured_token(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.main import create_app

    monkeypatch.setenv("LEDGER_METRICS_TOKEN", OPS_TOKEN)
    _reset_caches()
    try:
        with TestClient(create_app()) as client:
            anonymous = client.get("/metrics")
            wrong = client.get("/metrics", headers={"Authorization": "Bearer wrong-token-x"})
            scraper = client.get("/metrics", headers=DETAILS)
    finally:
        monkeypatch.undo()
        _reset_caches()
    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "ledger_" not in anonymous.text
    assert scraper.status_code == 200 and "ledger_" in scraper.text


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
