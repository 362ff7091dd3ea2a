"""Start-up steps for the container entrypoint, independent of the `ledger` CLI.

    python -m app.ops.bootstrap wait-db [--timeout 60] [--interval 1]
    python -m app.ops.bootstrap with-lock -- ledger db upgrade
    python -m app.ops.bootstrap seed-if-empty

`with-lock` runs a command while holding a PostgreSQL advisory lock, so that several replicas
starting at once run their migrations one after the other (on SQLite it just runs the command).
`seed-if-empty` loads the seed data only when the ledger holds no rows at all, under the same
lock, so a restored or edited database is never re-seeded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.core.config import seed_folder

# pg_advisory_lock key shared by every start-up step ("ledger" in ASCII).
LOCK_KEY = 0x6C6564676572
LOCK_WAIT_SECONDS = 600


def _log(message: str) -> None:
    print(f"bootstrap: {message}", file=sys.stderr, flush=True)


def _engine() -> Engine:
    from app.core.config import get_settings
    from app.core.db import make_engine

    return make_engine(get_settings().database_url)


def _redacted(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def wait_for_database(engine: Engine, timeout: float, interval: float) -> bool:
    """Try `SELECT 1` until it works or `timeout` seconds pass; return whether it worked."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            _log(f"database {_redacted(engine)} is reachable (attempt {attempt})")
            return True
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:160]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _log(f"gave up after {attempt} attempts over {timeout:g}s: {reason}")
                return False
            _log(f"waiting for the database (attempt {attempt}): {reason}")
            time.sleep(min(interval, max(remaining, 0.05)))


@contextmanager
def startup_lock(engine: Engine) -> Iterator[Connection | None]:
    """Hold the start-up advisory lock on PostgreSQL; a no-op elsewhere."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    with engine.connect() as conn:
        conn.execute(text(f"SET lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        conn.commit()
        try:
            yield conn
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            conn.commit()


def seed_if_empty(engine: Engine, seed_dir: Path) -> dict[str, int] | None:
    """Load the seed data when the ledger holds no rows; return what was added, or None."""
    from app.benchmarks.service import queue_bundled_scenarios
    from app.exports.service import is_empty
    from app.seed.service import seed

    with startup_lock(engine), Session(engine) as session:
        if not is_empty(session):
            return None
        added = seed(session, seed_dir)
        added["bundled_runs_queued"] = len(queue_bundled_scenarios(session))
        return added


def main(argv: Sequence[str] | None = None) -> int:
    """Run one start-up step; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m app.ops.bootstrap", description=__doc__)
    steps = parser.add_subparsers(dest="step", required=True)
    wait = steps.add_parser("wait-db", help="Wait until the database accepts connections.")
    wait.add_argument("--timeout", type=float, default=60.0, help="Seconds (default 60).")
    wait.add_argument("--interval", type=float, default=1.0, help="Seconds between tries.")
    steps.add_parser("seed-if-empty", help="Seed only when the ledger holds no rows.")
    locked = steps.add_parser("with-lock", help="Run a command under the start-up lock.")
    locked.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    try:
        engine = _engine()
    except ValidationError as exc:
        _log(f"invalid settings: {exc}")
        return 2
    try:
        if args.step == "wait-db":
            return 0 if wait_for_database(engine, args.timeout, args.interval) else 1
        if args.step == "seed-if-empty":
            folder = seed_folder()
            added = seed_if_empty(engine, folder)
            if added is None:
                _log("the database already holds data; not seeding")
            else:
                _log(f"seeded an empty database from {folder}: {added}")
            return 0
        command = list(args.command)
        if command[:1] == ["--"]:
            command = command[1:]
        if not command:
            parser.error("with-lock needs a command")
        with startup_lock(engine):
            return subprocess.call(command)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
