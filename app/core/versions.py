"""The versions that key cached responses: the ledger's, and the run queue's, apart.

Two counters live in the `data_version` table. Row 1, the ledger's, moves with every write to
claims, evidence, statuses, events or questions (and with a finished run's evidence). Row 2,
the run queue's, moves when a run is queued, claimed, reports progress, is handed back,
cancelled or finished. A cached response keys on the counters of what it shows (`Shows`), so
a sweep's progress reports never empty the cache of a ledger page.

Reading the counters is a database round trip, which must not happen on the event loop for
every request. A process keeps the values it last read and uses them for at most `FRESH_S`
seconds: that is how late it may see a write committed by another process (another worker or
replica). Its own commits that move a counter expire them at once (`mark_moved`), so a process
always reads its own writes. Past the bound, one thread reads them again while the requests
arriving meanwhile await that one read: one thread hand-off per bound, not one per request.

The ETag salt is the deployment's (`deployment_salt`): the same in every worker of the same
code, so a conditional request matches whichever worker answers it.
"""

import asyncio
import contextlib
import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.db import get_engine

LEDGER_ROW = 1
RUNS_ROW = 2
# How long a process may serve what another process's write made stale, in seconds.
FRESH_S = 0.05
_ROOT = Path(__file__).resolve().parent.parent.parent
# What a rendered response is made of besides the database: code, templates, assets, scenarios.
_DEPLOYED = ("app", "templates", "static", "seed_data")
_VERSIONS_SQL = "SELECT id, counter FROM data_version WHERE id IN (1, 2)"
_MOVED = "ledger.versions_moved"


class Shows(StrEnum):
    """What a cached response shows, so which counters it keys on."""

    ledger = "ledger"  # claims, evidence, statuses, events, questions
    runs = "runs"  # the run queue: runs, their states and progress
    both = "both"  # a run's page names the claims it compared


@dataclass(frozen=True)
class Versions:
    """The counters as one read saw them, with the cache key of each kind of response."""

    ledger: int
    runs: int
    keys: dict[Shows, str]


@lru_cache
def deployment_salt() -> str:
    """Return a hash of what this deployment renders with: the same in each of its workers.

    The code, templates, static assets and scenario files, and the public base URL (pages
    print absolute links). Another deployment's ETags never match this one's.
    """
    digest = hashlib.sha256(get_settings().public_base_url.encode())
    for top in _DEPLOYED:
        folder = _ROOT / top
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(_ROOT)).encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _today() -> str:
    fixed = get_settings().today
    return fixed or dt.date.today().isoformat()


def _keys(ledger: int, runs: int) -> dict[Shows, str]:
    # The day is in every key: overdue counts move at midnight without a write.
    tail = f"{_today()}:{deployment_salt()}"
    return {
        Shows.ledger: f"l{ledger}:{tail}",
        Shows.runs: f"r{runs}:{tail}",
        Shows.both: f"l{ledger}r{runs}:{tail}",
    }


def _autocommit(driver_connection: Any, dialect: str) -> None:
    # Leave no transaction open: a long-lived reader must not pin old snapshots or locks.
    if dialect == "sqlite":
        driver_connection.isolation_level = None
    else:
        driver_connection.autocommit = True


class _Probe:
    """Hold one autocommit DBAPI connection for reading the counters cheaply.

    A pooled checkout costs a ping and a rollback, and SQLAlchemy's execute path several
    times the read itself. Used by one thread at a time (the watch's lock).
    """

    def __init__(self) -> None:
        self._raw: Any = None
        self._engine: Engine | None = None

    def read(self) -> tuple[int, int]:
        """Return the ledger's and the run queue's counters (0 for a missing row)."""
        engine = get_engine()
        for attempt in range(2):
            try:
                if self._raw is None or self._engine is not engine:
                    self.close()
                    self._raw = engine.raw_connection()
                    _autocommit(self._raw.driver_connection, engine.dialect.name)
                    self._engine = engine
                cursor = self._raw.cursor()
                try:
                    cursor.execute(_VERSIONS_SQL)
                    rows = dict(cursor.fetchall())
                finally:
                    cursor.close()
                return int(rows.get(LEDGER_ROW, 0)), int(rows.get(RUNS_ROW, 0))
            except engine.dialect.loaded_dbapi.Error as exc:
                self.close()  # the server dropped us (restart, failover): reconnect once
                if attempt:
                    # As SQLAlchemy's error, so an outage answers 503 like any other query.
                    raise OperationalError(_VERSIONS_SQL, None, exc) from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.invalidate()  # never hand an autocommit connection back to the pool
        self._raw = None


class VersionWatch:
    """The counters of this process: read at most every `fresh_s`, expired by its own writes."""

    def __init__(self, fresh_s: float = FRESH_S, clock: Callable[[], float] = time.monotonic):
        self.fresh_s = fresh_s
        self.clock = clock
        self.probe = _Probe()
        self._lock = threading.Lock()
        self._known: Versions | None = None
        self._read_at = 0.0
        self._engine: Engine | None = None
        # Moves on every expiry; a read that started before one is not trusted after it.
        self._generation = 0
        self._read_generation = -1
        self._pending: asyncio.Future[Versions] | None = None  # the read in flight, if any
        self._pending_generation = -1

    def fresh(self) -> Versions | None:
        """Return the counters if they were read recently enough, else None (no I/O)."""
        known = self._known
        if (
            known is None
            or self._read_generation != self._generation
            or self.clock() - self._read_at >= self.fresh_s
            or self._engine is not get_engine()
        ):
            return None
        return known

    def read(self) -> Versions:
        """Return fresh counters, reading them from the database if needed (blocking)."""
        with self._lock:
            known = self.fresh()
            if known is not None:
                return known  # another thread read them while this one waited
            generation, started, engine = self._generation, self.clock(), get_engine()
            ledger, runs = self.probe.read()
            known = Versions(ledger, runs, _keys(ledger, runs))
            self._known, self._read_at, self._engine = known, started, engine
            self._read_generation = generation
            return known

    async def current(self) -> Versions:
        """Return fresh counters; a read from the database goes to a thread, never the loop.

        Requests that find them stale together share one read, unless it started before this
        process's latest write: that one's reader must see it.
        """
        known = self.fresh()
        if known is not None:
            return known
        pending = self._pending
        if (
            pending is None
            or self._pending_generation != self._generation
            or pending.get_loop() is not asyncio.get_running_loop()
        ):
            self._pending_generation = self._generation
            pending = self._pending = asyncio.ensure_future(run_in_threadpool(self.read))
            pending.add_done_callback(self._read_done)
        # Shielded: a request that goes away does not cancel the read the others await.
        return await asyncio.shield(pending)

    def _read_done(self, done: "asyncio.Future[Versions]") -> None:
        if self._pending is done:
            self._pending = None
        if not done.cancelled():
            done.exception()  # retrieved: whoever awaited it has it; none left is no warning

    def expire(self) -> None:
        """Forget the counters: this process committed a write that moved one of them."""
        self._generation += 1

    def reset(self) -> None:
        """Forget everything, connection included (tests switch databases)."""
        with self._lock:
            self._known = None
            self._generation += 1
            self.probe.close()


watch = VersionWatch()


def mark_moved(session: Session) -> None:
    """Note that this session's transaction moves a counter; its commit expires the watch."""
    session.info[_MOVED] = True


def expire() -> None:
    """Expire the watch now (after a commit made outside a session's own transaction)."""
    watch.expire()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_MOVED, False):
        watch.expire()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_MOVED, None)
