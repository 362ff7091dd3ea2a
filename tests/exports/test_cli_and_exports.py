"""CLI: seed idempotence, tokens, and export → import → export byte-identity."""

import json
import os
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from tests.conftest import (
    ROOT,
    _reset_caches,
    create_pg_database,
    drop_pg_database,
    migrate_and_seed,
    require_postgres,
)

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_seed_twice_changes_nothing(db_url: str) -> None:
    second = json.loads(invoke("seed", "--seed-dir", str(ROOT / "seed_data")))
    assert set(second.values()) == {0}


def test_token_create_prints_once_and_revoke_works(db_url: str) -> None:
    from app.auth.service import verify
    from app.core.db import get_engine

    plaintext = invoke("token", "create", "bot", "--scope", "write").strip()
    assert plaintext.startswith("ldg_")
    with Session(get_engine()) as session:
        assert verify(session, plaintext) is not None
    assert plaintext not in invoke("token", "list")
    prefix = plaintext.split("_")[1]
    invoke("token", "revoke", prefix)
    with Session(get_engine()) as session:
        assert verify(session, plaintext) is None


def test_an_all_digit_prefix_is_revoked_as_a_prefix(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prefix of decimal digits (about 2% of them) names the token, not an id."""
    import secrets

    from app.auth.service import verify
    from app.core.db import get_engine

    invoke("token", "create", "first", "--scope", "write")
    monkeypatch.setattr(secrets, "token_hex", lambda n: "43795783" if n == 4 else "ab" * n)
    plaintext = invoke("token", "create", "digits", "--scope", "write").strip()
    assert plaintext.split("_")[1] == "43795783"
    assert "revoked 43795783 (digits)" in invoke("token", "revoke", "43795783")
    with Session(get_engine()) as session:
        assert verify(session, plaintext) is None
    first_id = invoke("token", "list").splitlines()[-1].split("\t")[0]
    assert "(first)" in invoke("token", "revoke", "--id", first_id)
    refused = runner.invoke(cli, ["token", "revoke", "43795783", "--id", first_id])
    assert refused.exit_code == 2 and "not both" in refused.output


def test_bad_scope_is_refused(db_url: str) -> None:
    result = runner.invoke(cli, ["token", "create", "bot", "--scope", "root"])
    assert result.exit_code == 2


def _fresh_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    require_postgres()
    return create_pg_database()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_export_import_export_is_byte_identical(backend: str, tmp_path: Path) -> None:
    source = (
        _fresh_url(backend, tmp_path / "a")
        if backend == "postgres"
        else (f"sqlite:///{tmp_path / 'source.db'}")
    )
    target = (
        _fresh_url(backend, tmp_path)
        if backend == "postgres"
        else (f"sqlite:///{tmp_path / 'target.db'}")
    )
    try:
        migrate_and_seed(source)
        first = tmp_path / "first.json"
        invoke("export", "--output", str(first))
        data = json.loads(first.read_text())
        assert len(data["claims"]) >= 60 and len(data["status_changes"]) > 0

        os.environ["LEDGER_DATABASE_URL"] = target
        _reset_caches()
        invoke("db", "upgrade")
        invoke("import", str(first))
        second = tmp_path / "second.json"
        invoke("export", "--output", str(second))
        assert first.read_bytes() == second.read_bytes()

        refused = runner.invoke(cli, ["import", str(first)])
        assert refused.exit_code == 1 and "not empty" in refused.output
    finally:
        _reset_caches()
        if backend == "postgres":
            drop_pg_database(source)
            drop_pg_database(target)


def test_reseeding_with_new_evidence_only_appends_history(db_url: str, tmp_path: Path) -> None:
    import shutil

    import yaml
    from sqlmodel import col, select

    from app.core.db import get_engine
    from app.history.models import StatusChange
    from app.seed.service import seed

    seed_dir = tmp_path / "seed"
    shutil.copytree(ROOT / "seed_data", seed_dir)
    evidence = yaml.safe_load((seed_dir / "evidence.yaml").read_text())
    evidence.append(
        {
            "slug": "test-benchmark-of-the-node",
            "capability": "dojo-training-node",
            "title": "Independent node benchmark",
            "kind": "benchmark_result",
            "origin": "independent",
            "source": "S18",
            "grade": "P",
            "date": "2026-06-01",
            "stance": "supports",
            "level": "benchmarked",
        }
    )
    (seed_dir / "evidence.yaml").write_text(yaml.safe_dump(evidence))
    with Session(get_engine()) as session:
        old = [
            (r.id, r.to_status)
            for r in session.exec(select(StatusChange).order_by(col(StatusChange.id)))
        ]
        added = seed(session, seed_dir)
        new = [
            (r.id, r.to_status)
            for r in session.exec(select(StatusChange).order_by(col(StatusChange.id)))
        ]
    assert added["evidence"] == 1
    assert new[: len(old)] == old
    assert new[len(old) :] and new[-1][1] == "benchmarked"
