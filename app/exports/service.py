"""Full JSON export and checked, all-or-nothing import; export → import → export is identical."""

import json
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, select

from app.core.limits import InputError, decode_json
from app.exports.table import EXPORT_TABLES, ExportTable
from app.status import history as history_service

FORMAT = "ai-day-ledger/1"


class ImportFailure(ValueError):
    """An import was refused; the message names the file, table and row, and nothing was kept."""


class ExportFailure(ValueError):
    """A stored value cannot be written as standard JSON."""


def _row_dict(row: SQLModel) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in inspect(type(row)).columns}


def export_data(session: Session) -> dict[str, Any]:
    """Return every exported row (API tokens and sessions excluded: they are credentials)."""
    data: dict[str, Any] = {"format": FORMAT}
    for table in EXPORT_TABLES:
        statement = select(table.model).order_by(inspect(table.model).columns["id"])
        data[table.name] = [_row_dict(r) for r in session.exec(statement).all()]
    return data


def dumps(data: dict[str, Any]) -> str:
    """Serialise an export deterministically, as standard JSON (never NaN or Infinity)."""
    try:
        body = json.dumps(
            data, indent=2, sort_keys=True, default=str, ensure_ascii=False, allow_nan=False
        )
    except ValueError as exc:
        raise ExportFailure(f"a stored number is NaN or infinite ({exc}); fix that row.") from exc
    return body + "\n"


def is_empty(session: Session) -> bool:
    """Return whether the ledger holds no exported rows."""
    return all(session.exec(select(t.model).limit(1)).first() is None for t in EXPORT_TABLES)


def import_file(session: Session, path: Path) -> dict[str, int]:
    """Import an export file into an empty database; errors name the file, table and row."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot read the file ({exc.strerror}).") from exc
    try:
        data = decode_json(raw)  # the bounds are checked row by row, so errors name the row
    except InputError as exc:
        raise ImportFailure(f"{path}: not a ledger export: {exc}") from exc
    try:
        return import_data(session, data)
    except ImportFailure as exc:
        raise ImportFailure(f"{path}: {exc}") from exc


def import_data(session: Session, data: Any) -> dict[str, int]:
    """Load an export into an empty database in one transaction, keeping ids."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ImportFailure(f"not a ledger export (format {found!r}, want {FORMAT!r}).")
    unknown = set(data) - {"format"} - {t.name for t in EXPORT_TABLES}
    if unknown:
        raise ImportFailure(f"unknown table(s) {', '.join(sorted(unknown))}; nothing imported.")
    validated = {t.name: _validate_table(t, data.get(t.name, [])) for t in EXPORT_TABLES}
    _check_references(validated)
    _check_no_cycles(validated)
    if not is_empty(session):
        raise ImportFailure("the database is not empty; import only into a fresh database.")
    try:
        for table in EXPORT_TABLES:
            _insert(session, table, validated[table.name])
        _reset_sequences(session)
        history_service.bump_data_version(session, history_service.EVERYTHING)
        history_service.bump_runs_version(session)  # the export carries runs too
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise ImportFailure(f"the database refused the rows ({reason}); nothing imported.") from exc
    return {t.name: len(validated[t.name]) for t in EXPORT_TABLES}


def _validate_table(table: ExportTable, rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise ImportFailure(f"table '{table.name}': must be a list of rows.")
    out: list[dict[str, Any]] = []
    seen: dict[str, dict[Any, int]] = {}
    unique = [c.key for c in inspect(table.model).columns if c.primary_key or c.unique]
    for number, raw in enumerate(rows, start=1):
        where = f"table '{table.name}', row {number}"
        if isinstance(raw, dict) and isinstance(raw.get("id"), int):
            where += f" (id {raw['id']})"
        if not isinstance(raw, dict):
            raise ImportFailure(f"{where}: must be an object.")
        try:
            row = table.row_schema.model_validate(raw)
        except ValidationError as exc:
            raise ImportFailure(f"{where}: {_describe(exc)}") from exc
        values = {key: _plain(getattr(row, key)) for key in type(row).model_fields}
        for key in unique:
            first = seen.setdefault(key, {}).setdefault(values[key], number)
            if first != number:
                raise ImportFailure(f"{where}: {key} {values[key]!r} repeats row {first}.")
        out.append(values)
    return out


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        field = ".".join(str(p) for p in error["loc"]) or "row"
        parts.append(f"{field}: {error['msg']}")
    return "; ".join(parts)


def _plain(value: Any) -> Any:
    # The tables store enum values as plain strings.
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, BaseModel):  # a nested JSON column (a question's options)
        return value.model_dump(mode="json")
    return value


def _links(table: ExportTable) -> dict[str, str]:
    """Return column -> referenced export key, for foreign keys and declared references."""
    by_table = {t.model.__tablename__: t.name for t in EXPORT_TABLES}
    links = dict(table.references)
    for column in inspect(table.model).columns:
        for foreign_key in column.foreign_keys:
            links[column.key] = by_table[foreign_key.column.table.name]
    return links


def _check_references(validated: dict[str, list[dict[str, Any]]]) -> None:
    ids = {name: {row["id"] for row in rows} for name, rows in validated.items()}
    for table in EXPORT_TABLES:
        links = _links(table)
        for number, row in enumerate(validated[table.name], start=1):
            for column, target in links.items():
                value = row.get(column)
                wanted = value if isinstance(value, list) else [value]
                missing = [v for v in wanted if v is not None and v not in ids[target]]
                if missing:
                    raise ImportFailure(
                        f"table '{table.name}', row {number} (id {row['id']}): {column} "
                        f"{missing[0]} is not an id in '{target}'."
                    )


def _self_references(table: ExportTable) -> list[str]:
    return [
        c.key
        for c in inspect(table.model).columns
        for fk in c.foreign_keys
        if fk.column.table.name == table.model.__tablename__
    ]


def _check_no_cycles(validated: dict[str, list[dict[str, Any]]]) -> None:
    """Refuse rows whose references to their own table go round (a capability its own
    ancestor, a claim restating itself through others): every walk up them must end."""
    for table in EXPORT_TABLES:
        for column in _self_references(table):
            up = {row["id"]: row.get(column) for row in validated[table.name]}
            done: set[Any] = set()
            for start in up:
                path: list[Any] = []
                on_path: set[Any] = set()
                node = start
                while node is not None and node not in done:
                    if node in on_path:
                        loop = path[path.index(node) :]
                        raise ImportFailure(
                            f"table '{table.name}': {column} makes a cycle through ids "
                            f"{', '.join(str(i) for i in loop)}; nothing imported."
                        )
                    on_path.add(node)
                    path.append(node)
                    node = up.get(node)
                done.update(path)


def _insert(session: Session, table: ExportTable, rows: list[dict[str, Any]]) -> None:
    model = table.model
    self_refs = [
        c.key
        for c in inspect(model).columns
        for fk in c.foreign_keys
        if fk.column.table.name == model.__tablename__
    ]
    deferred: list[tuple[int, str, Any]] = []
    for checked in rows:
        values = dict(checked)
        for key in self_refs:
            if values.get(key) is not None:
                deferred.append((values["id"], key, values[key]))
                values[key] = None
        session.add(model(**values))
    session.flush()
    for row_id, key, ref in deferred:
        row = session.get(model, row_id)
        setattr(row, key, ref)
        session.add(row)
    session.flush()


def _reset_sequences(session: Session) -> None:
    """Move PostgreSQL id sequences past the imported ids."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in EXPORT_TABLES:
        name = table.model.__tablename__
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
        )
