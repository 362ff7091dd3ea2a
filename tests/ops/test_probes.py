"""/healthz and /readyz: process up; database reachable and migrations at head, else 503."""

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
    assert body["checks"] == {"database": "ok", "migrations": "ok"}
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
