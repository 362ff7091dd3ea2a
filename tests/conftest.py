"""Shared fixtures: a migrated, seeded database per backend, copied fresh for each test.

SQLite always runs. PostgreSQL runs on LEDGER_TEST_POSTGRES_URL when it is set (CI sets it and
makes it mandatory), else on a local server when one answers at 127.0.0.1:5432 as user postgres
(set the variable empty to skip it); each test gets its own database cloned from a seeded
template, dropped after.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
# Hypothesis keeps no example database: running the tests writes no .hypothesis/ folder.
hypothesis_settings.register_profile("ledger", database=None)
hypothesis_settings.load_profile("ledger")
# Tests drive workers explicitly; a live-server test that wants one sets this for its server.
os.environ.setdefault("LEDGER_INPROCESS_WORKER", "false")
# Tests submit many runs from one token; the quota tests set their own, lower limits.
os.environ.setdefault("LEDGER_RUNS_QUEUED_PER_TOKEN", "10000")
os.environ.setdefault("LEDGER_RUNS_PER_MINUTE_PER_TOKEN", "10000")
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _postgres_url() -> str | None:
    """Return the PostgreSQL to test on: the configured one, else a local one that answers."""
    configured = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if configured is not None:
        return configured or None
    import psycopg

    try:
        with psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=2
        ):
            pass
    except psycopg.Error:
        return None
    # Exported so that subprocesses and xdist workers test on the same server.
    os.environ["LEDGER_TEST_POSTGRES_URL"] = LOCAL_POSTGRES
    return LOCAL_POSTGRES


POSTGRES_URL = _postgres_url()
BACKENDS = ["sqlite", "postgres"]


def _reset_caches() -> None:
    from app.core import cache
    from app.core.config import get_settings
    from app.core.db import get_engine
    from app.status import snapshot

    get_settings.cache_clear()
    get_engine.cache_clear()
    snapshot.invalidate()
    cache.clear()


def migrate_and_seed(url: str) -> None:
    """Bring a database to head and load the seed data."""
    from alembic import command

    from app.cli import alembic_config
    from app.core.db import make_engine
    from app.seed.service import seed

    os.environ["LEDGER_DATABASE_URL"] = url
    _reset_caches()
    command.upgrade(alembic_config(), "head")
    engine = make_engine(url)
    with Session(engine) as session:
        seed(session, ROOT / "seed_data")
    engine.dispose()


def _admin_engine():  # type: ignore[no-untyped-def]
    assert POSTGRES_URL is not None
    return create_engine(
        make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )


def create_pg_database(template: str | None = None) -> str:
    """Create a uniquely named PostgreSQL database and return its URL."""
    assert POSTGRES_URL is not None
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    engine.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    """Drop a test database, closing other connections first."""
    from app.core.db import get_engine

    get_engine.cache_clear()
    name = make_url(url).database
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def require_postgres() -> None:
    """Skip (or, under CI, fail) when no PostgreSQL is configured."""
    if POSTGRES_URL:
        return
    reason = (
        "no PostgreSQL: LEDGER_TEST_POSTGRES_URL is unset or empty and none answers at "
        "127.0.0.1:5432; PostgreSQL tests skipped (CI sets it)."
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def seeded_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Build one seeded database per backend for the whole session."""
    templates: dict[str, str] = {}
    sqlite_path = tmp_path_factory.mktemp("template") / "seeded.db"
    migrate_and_seed(f"sqlite:///{sqlite_path}")
    templates["sqlite"] = str(sqlite_path)
    pg_template = None
    if POSTGRES_URL:
        pg_template = create_pg_database()
        migrate_and_seed(pg_template)
        from app.core.db import get_engine

        get_engine.cache_clear()
        templates["postgres"] = make_url(pg_template).database or ""
    yield templates
    if pg_template:
        drop_pg_database(pg_template)


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, seeded_templates: dict[str, str], tmp_path: Path
) -> Iterator[str]:
    """Yield the URL of a fresh seeded database on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "ledger.db"
        shutil.copyfile(seeded_templates["sqlite"], target)
        url = f"sqlite:///{target}"
        os.environ["LEDGER_DATABASE_URL"] = url
        _reset_caches()
        yield url
        _reset_caches()
        return
    require_postgres()
    url = create_pg_database(template=seeded_templates["postgres"])
    os.environ["LEDGER_DATABASE_URL"] = url
    _reset_caches()
    yield url
    _reset_caches()
    drop_pg_database(url)


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """Yield a session on the fresh database."""
    from app.core.db import get_engine

    with Session(get_engine()) as s:
        yield s


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    """Yield a TestClient for an app bound to the fresh database."""
    from app.main import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def write_token(db_url: str) -> str:
    """Return a plaintext token with the write scope."""
    from app.auth.service import create_token
    from app.core.db import get_engine

    with Session(get_engine()) as s:
        _token, plaintext = create_token(s, name="tester", scopes=["write"])
    return plaintext


@pytest.fixture
def read_token(db_url: str) -> str:
    """Return a plaintext token with only the read scope."""
    from app.auth.service import create_token
    from app.core.db import get_engine

    with Session(get_engine()) as s:
        _token, plaintext = create_token(s, name="reader", scopes=["read"])
    return plaintext
