"""Migrations: one head, reversible, and no drift between models and migrations."""

import os

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from app.cli import alembic_config
from tests.conftest import _reset_caches, create_pg_database, drop_pg_database, require_postgres


def _round_trip(url: str) -> None:
    os.environ["LEDGER_DATABASE_URL"] = url
    _reset_caches()
    config = alembic_config()
    command.upgrade(config, "head")
    command.check(config)  # raises if the models and migrations drifted apart
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    command.check(config)


def test_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_round_trip_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _round_trip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_round_trip_postgres() -> None:
    require_postgres()
    url = create_pg_database()
    try:
        _round_trip(url)
    finally:
        drop_pg_database(url)
