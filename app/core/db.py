"""Database engine, sessions and the metadata naming convention."""

import json
from collections.abc import Iterator
from functools import lru_cache, partial
from typing import Annotated

from fastapi import Depends
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from app.core.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)
# JSON columns hold standard JSON on every backend: PostgreSQL refuses NaN and Infinity, and
# SQLite must not store what an export could not write.
_json_serializer = partial(json.dumps, allow_nan=False)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_pre_ping=True,
            json_serializer=_json_serializer,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=_json_serializer
    )


@lru_cache
def get_engine() -> Engine:
    """Return the process-wide engine for the configured database."""
    return make_engine(get_settings().database_url)


def get_session() -> Iterator[Session]:
    """Yield a session for one request."""
    with Session(get_engine()) as session:
        yield session


# The one request-session dependency every route and page declares.
SessionDep = Annotated[Session, Depends(get_session)]


def take_write_lock(session: Session, key: int) -> None:
    """Hold a lock named by `key` until this session's transaction ends; wait for it if taken.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the database's write lock
    (`BEGIN IMMEDIATE`), which every writer needs, so it serialises more than holders of `key`.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        return
    dbapi = connection.connection.dbapi_connection
    # Under pysqlite a transaction is open only once it has written: then it holds the lock.
    if dbapi is not None and not dbapi.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
