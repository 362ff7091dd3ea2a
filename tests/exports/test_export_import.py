"""Export holds every table but credentials; import checks every row and keeps all or nothing."""

import copy
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

import app.models  # noqa: F401  (every table in the metadata)
from app.cli import alembic_config, cli
from app.exports.table import EXPORT_TABLES, NOT_EXPORTED
from tests.conftest import (
    _reset_caches,
    create_pg_database,
    drop_pg_database,
    migrate_and_seed,
    require_postgres,
)

runner = CliRunner()


def _use(url: str) -> None:
    os.environ["LEDGER_DATABASE_URL"] = url
    _reset_caches()


def _export(path: Path) -> dict[str, Any]:
    result = runner.invoke(cli, ["export", "--output", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _import(path: Path) -> Any:
    return runner.invoke(cli, ["import", str(path)])


def _add_a_run_with_evidence() -> None:
    """Store a finished benchmark run and the evidence that points at it."""
    from app.benchmarks.models import BenchmarkRun
    from app.capabilities.models import Capability
    from app.core.db import get_engine
    from app.evidence.models import Evidence

    with Session(get_engine()) as session:
        run = BenchmarkRun(
            title="D1 GEMM",
            spec={"kind": "gemm", "hardware": "d1", "m": 1024, "nested": {"a": [1, 2.5]}},
            result={"tflops": 301.25, "comparisons": []},
            environment={"python": "3.11"},
            state="succeeded",
            progress=1.0,
            seed=7,
            capability_slugs=["dojo-d1"],
            attempts=1,
        )
        session.add(run)
        session.flush()
        capability = session.exec(select(Capability).where(Capability.slug == "dojo-d1")).first()
        assert capability is not None
        session.add(
            Evidence(
                slug="simulated-d1-gemm",
                title="Simulated D1 GEMM",
                kind="simulation_run",
                origin="computed",
                grade="D",
                date=run.created_at.date(),
                stance="supports",
                capability_id=capability.id,
                benchmark_run_id=run.id,
            )
        )
        session.commit()


@pytest.fixture
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Yield a source and an empty target database URL on the requested backend."""
    backend = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"
        _reset_caches()
        return
    require_postgres()
    source, target = create_pg_database(), create_pg_database()
    try:
        yield source, target
    finally:
        _reset_caches()
        drop_pg_database(source)
        drop_pg_database(target)


@pytest.mark.parametrize("urls", ["sqlite", "postgres"], indirect=True)
def test_cli_export_round_trips_benchmark_runs(urls: tuple[str, str], tmp_path: Path) -> None:
    source, target = urls
    migrate_and_seed(source)
    _use(source)
    _add_a_run_with_evidence()
    first = _export(tmp_path / "first.json")
    assert len(first["benchmark_runs"]) == 1
    run_id = first["benchmark_runs"][0]["id"]
    assert any(e["benchmark_run_id"] == run_id for e in first["evidence"])

    _use(target)
    command.upgrade(alembic_config(), "head")
    imported = _import(tmp_path / "first.json")
    assert imported.exit_code == 0, imported.output
    second = _export(tmp_path / "second.json")
    assert (tmp_path / "first.json").read_bytes() == (tmp_path / "second.json").read_bytes()
    assert second["benchmark_runs"][0]["spec"]["nested"] == {"a": [1, 2.5]}


def test_every_table_is_exported_or_deliberately_left_out() -> None:
    exported = {t.model.__tablename__ for t in EXPORT_TABLES}  # type: ignore[attr-defined]
    left_out = {m.__tablename__ for m in NOT_EXPORTED}  # type: ignore[attr-defined]
    assert set(SQLModel.metadata.tables) == exported | left_out
    assert "api_token" in left_out and "web_session" in left_out


@pytest.mark.parametrize("table", EXPORT_TABLES, ids=lambda t: t.name)
def test_each_row_schema_checks_exactly_the_table_columns(table: Any) -> None:
    columns = {c.key for c in inspect(table.model).columns}
    assert set(table.row_schema.model_fields) == columns


# ---- Refused imports -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('export') / 'seeded.db'}"
    migrate_and_seed(url)
    _use(url)
    _add_a_run_with_evidence()
    data = _export(tmp_path_factory.mktemp("export") / "good.json")
    _reset_caches()
    return data


@pytest.fixture
def empty_db(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    _use(url)
    command.upgrade(alembic_config(), "head")
    yield url
    _reset_caches()


def _is_empty() -> bool:
    from app.core.db import get_engine
    from app.exports.service import is_empty

    with Session(get_engine()) as session:
        return is_empty(session)


def _set(table: str, row: int, **values: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data[table][row].update(values)

    return mutate


def _cycle(data: dict[str, Any]) -> None:
    """Make the first capability with a parent the parent of its own parent."""
    caps = {c["id"]: c for c in data["capabilities"]}
    child = next(c for c in data["capabilities"] if c["parent_id"] is not None)
    caps[child["parent_id"]]["parent_id"] = child["id"]


def _restating_cycle(data: dict[str, Any]) -> None:
    first, second = data["claims"][0], data["claims"][1]
    first["restates_id"], second["restates_id"] = second["id"], first["id"]


ROW_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown evidence kind": (_set("evidence", 2, kind="rumour"), "table 'evidence', row 3"),
    "unknown grade": (_set("claims", 4, grade="Z"), "table 'claims', row 5"),
    "unknown status": (_set("status_changes", 0, to_status="shipped"), "table 'status_changes'"),
    "reason code not a code": (
        _set("status_changes", 0, reason_code="Not a code"),
        "table 'status_changes', row 1",
    ),
    "unknown run state": (_set("benchmark_runs", 0, state="lost"), "table 'benchmark_runs'"),
    "unknown capability kind": (_set("capabilities", 1, kind="gpu"), "table 'capabilities'"),
    "NUL in a title": (_set("evidence", 0, title="a\u0000b"), "table 'evidence', row 1"),
    "deep spec": (
        _set("benchmark_runs", 0, spec=json.loads('{"x":' * 40 + "1" + "}" * 40)),
        "table 'benchmark_runs'",
    ),
    "missing parent": (_set("capabilities", 1, parent_id=99_999), "parent_id 99999"),
    "missing run": (_set("evidence", 0, benchmark_run_id=4_242), "benchmark_run_id 4242"),
    "missing capability": (_set("claims", 0, capability_id=88_888), "capability_id 88888"),
    "missing evidence in history": (
        _set("status_changes", 0, evidence_ids=[77_777]),
        "evidence_ids 77777",
    ),
    "unknown column": (_set("events", 0, colour="red"), "table 'events', row 1"),
    # Strict types: "1" was read as 1, and 1 as true.
    "id as text": (lambda d: d["events"][0].update(id=str(d["events"][0]["id"])), "'events'"),
    "version as text": (_set("claims", 0, version="1"), "table 'claims', row 1"),
    "flag as a number": (_set("capabilities", 0, critical=1), "table 'capabilities', row 1"),
    "seed as a float": (_set("benchmark_runs", 0, seed=7.0), "table 'benchmark_runs'"),
    "version beyond INTEGER": (_set("events", 0, version=2**31), "table 'events', row 1"),
    "a capability its own parent": (
        lambda d: d["capabilities"][0].update(parent_id=d["capabilities"][0]["id"]),
        "parent_id makes a cycle",
    ),
    "a hierarchy that goes round": (_cycle, "parent_id makes a cycle"),
    "claims restating each other": (_restating_cycle, "restates_id makes a cycle"),
    "duplicate slug": (
        lambda d: d["claims"][1].update(slug=d["claims"][0]["slug"]),
        "repeats row 1",
    ),
    "unknown table": (lambda d: d.update(api_tokens=[]), "unknown table(s) api_tokens"),
}


@pytest.mark.parametrize("case", ROW_CASES, ids=list(ROW_CASES))
def test_a_bad_row_is_refused_by_name_and_nothing_is_kept(
    case: str, good_export: dict[str, Any], empty_db: str, tmp_path: Path
) -> None:
    mutate, expected = ROW_CASES[case]
    data = copy.deepcopy(good_export)
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = _import(path)
    assert result.exit_code == 1, result.output
    assert str(path) in result.output and expected in result.output, result.output
    assert "Traceback" not in result.output
    assert _is_empty()


def test_a_legacy_reason_code_is_imported_and_exported_unchanged(
    good_export: dict[str, Any], empty_db: str, tmp_path: Path
) -> None:
    """History rows older than ReasonCode keep their codes through an export and an import."""
    data = copy.deepcopy(good_export)
    data["status_changes"][0]["reason_code"] = "photo_review"
    path = tmp_path / "legacy.json"
    path.write_text(json.dumps(data))
    result = _import(path)
    assert result.exit_code == 0, result.output
    again = _export(tmp_path / "again.json")
    assert [r["reason_code"] for r in again["status_changes"]] == [
        r["reason_code"] for r in data["status_changes"]
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the file"),
        ("not json at all", "Malformed JSON"),
        ('{"format": "ai-day-ledger/1", "events": [{"id": 1', "Malformed JSON"),
        ('{"format": "ai-day-ledger/1", "claims": [{"value": NaN}]}', "NaN is not valid JSON"),
        ('["a list"]', "not a ledger export"),
        ('{"format": "something-else/1"}', "not a ledger export"),
    ],
    ids=["missing", "not-json", "truncated", "nan", "not-an-object", "wrong-format"],
)
def test_a_bad_file_is_refused_without_a_traceback(
    content: str | None, expected: str, empty_db: str, tmp_path: Path
) -> None:
    path = tmp_path / "dump.json"
    if content is not None:
        path.write_text(content)
    result = _import(path)
    assert result.exit_code == 1, result.output
    assert str(path) in result.output and expected in result.output, result.output
    assert "Traceback" not in result.output


def test_a_database_refusal_rolls_back_every_table(
    good_export: dict[str, Any], empty_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.exports import service

    # Skip the up-front reference check so that the database itself refuses the last table.
    monkeypatch.setattr(service, "_check_references", lambda validated: None)
    data = copy.deepcopy(good_export)
    data["status_changes"][-1]["capability_id"] = 99_999
    path = tmp_path / "fk.json"
    path.write_text(json.dumps(data))
    result = _import(path)
    assert result.exit_code == 1, result.output
    assert "nothing imported" in result.output and "Traceback" not in result.output
    assert _is_empty()


def test_export_never_writes_nan(tmp_path: Path) -> None:
    from app.exports.service import ExportFailure, dumps

    with pytest.raises(ExportFailure):
        dumps({"format": "ai-day-ledger/1", "claims": [{"value": float("nan")}]})


def test_json_columns_refuse_nan_on_every_backend(session: Session) -> None:
    from sqlalchemy.exc import StatementError

    from app.benchmarks.models import BenchmarkRun

    session.add(BenchmarkRun(title="nan result", spec={"kind": "gemm"}, result={"x": float("nan")}))
    with pytest.raises((StatementError, ValueError)):
        session.commit()
