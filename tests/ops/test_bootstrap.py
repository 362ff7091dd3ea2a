"""`python -m app.ops.bootstrap`: bounded wait, seed only an empty database, start-up lock."""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from sqlmodel import Session

from app.cli import alembic_config
from app.core.db import make_engine
from app.ops import bootstrap
from tests.conftest import _reset_caches, create_pg_database, drop_pg_database, require_postgres
from tests.ops.helpers import ROOT, free_port


def run_step(*args: str, url: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(LEDGER_DATABASE_URL=url, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "app.ops.bootstrap", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def migrate(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    _reset_caches()
    command.upgrade(alembic_config(), "head")
    monkeypatch.undo()
    _reset_caches()


def test_seed_if_empty_seeds_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url, monkeypatch)
    first = run_step("seed-if-empty", url=url)
    assert first.returncode == 0, first.stderr
    assert "seeded an empty database" in first.stderr
    second = run_step("seed-if-empty", url=url)
    assert second.returncode == 0, second.stderr
    assert "already holds data" in second.stderr


def test_seed_if_empty_leaves_edited_data_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One row of anything (an imported backup, say) means: not empty, do not seed."""
    from app.events.models import Event

    url = f"sqlite:///{tmp_path / 'one-row.db'}"
    migrate(url, monkeypatch)
    engine = make_engine(url)
    with Session(engine) as session:
        session.add(
            Event(
                slug="only-event",
                name="Only event",
                kind="presentation",
                date=dt.date(2021, 8, 19),
                venue="",
                url="https://example.org/",
                description="",
            )
        )
        session.commit()
    assert bootstrap.seed_if_empty(engine, ROOT / "seed_data") is None
    engine.dispose()


def test_wait_db_is_bounded(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x?connect_timeout=2"
    started = time.monotonic()
    result = run_step("wait-db", "--timeout", "1.5", "--interval", "0.3", url=url)
    assert result.returncode == 1
    assert "gave up after" in result.stderr
    assert time.monotonic() - started < 30


def test_wait_db_succeeds_at_once_when_reachable(tmp_path: Path) -> None:
    result = run_step("wait-db", "--timeout", "5", url=f"sqlite:///{tmp_path / 'w.db'}")
    assert result.returncode == 0, result.stderr
    assert "reachable (attempt 1)" in result.stderr


def test_with_lock_runs_the_command_and_returns_its_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    ok = run_step("with-lock", "--", sys.executable, "-c", "print('inside')", url=url)
    assert ok.returncode == 0 and ok.stdout.strip() == "inside"
    failed = run_step("with-lock", "--", sys.executable, "-c", "raise SystemExit(3)", url=url)
    assert failed.returncode == 3


@pytest.mark.postgres
def test_with_lock_serialises_replicas_on_postgres(tmp_path: Path) -> None:
    require_postgres()
    url = create_pg_database()
    marks = tmp_path / "marks.txt"
    script = (
        "import sys, time; f = open(sys.argv[1], 'a'); f.write(f'start {time.time()}\\n'); "
        "f.flush(); time.sleep(1.0); f.write(f'end {time.time()}\\n'); f.close()"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(LEDGER_DATABASE_URL=url, PYTHONPATH=str(ROOT))
    args = [sys.executable, "-m", "app.ops.bootstrap", "with-lock", "--"]
    try:
        procs = [
            subprocess.Popen([*args, sys.executable, "-c", script, str(marks)], cwd=ROOT, env=env)
            for _ in range(2)
        ]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
    finally:
        drop_pg_database(url)
    events = [line.split() for line in marks.read_text().splitlines()]
    kinds = [kind for kind, _at in events]
    assert kinds == ["start", "end", "start", "end"], "the two commands overlapped"
