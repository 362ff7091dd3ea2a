"""Full JSON export and import; export → import → export is byte-identical."""

import datetime as dt
import json
from typing import Any

from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel, col, select

from app.capabilities.models import Capability
from app.claims.models import Claim
from app.events.models import Event
from app.evidence.models import Evidence
from app.history.models import StatusChange
from app.ladder.models import StatusLevel
from app.status import history as history_service

FORMAT = "ai-day-ledger/1"
# Order matters: referenced tables first. Self-references are patched after insert.
TABLES: list[tuple[str, type[SQLModel]]] = [
    ("status_levels", StatusLevel),
    ("events", Event),
    ("capabilities", Capability),
    ("claims", Claim),
    ("evidence", Evidence),
    ("status_changes", StatusChange),
]
SELF_REFERENCES = {"capabilities": "parent_id", "claims": "restates_id"}
EXTRA_TABLES: list[tuple[str, type[SQLModel]]] = []


def register_table(name: str, model: type[SQLModel]) -> None:
    """Include another domain's table in exports (the benchmark runs register here)."""
    if all(existing != name for existing, _ in EXTRA_TABLES):
        EXTRA_TABLES.append((name, model))


def _tables() -> list[tuple[str, type[SQLModel]]]:
    return TABLES + EXTRA_TABLES


def _row_dict(row: SQLModel) -> dict[str, Any]:
    columns = inspect(type(row)).columns
    return {c.key: getattr(row, c.key) for c in columns}


def export_data(session: Session) -> dict[str, Any]:
    """Return every ledger row (API tokens excluded: they are credentials)."""
    data: dict[str, Any] = {"format": FORMAT}
    for name, model in _tables():
        rows = session.exec(select(model).order_by(col(model.id))).all()  # type: ignore[attr-defined]
        data[name] = [_row_dict(r) for r in rows]
    return data


def _typed(model: type[SQLModel], raw: dict[str, Any]) -> dict[str, Any]:
    # Table models do not validate, so ISO strings must become dates before insert.
    values = dict(raw)
    for column in inspect(model).columns:
        value = values.get(column.key)
        if not isinstance(value, str):
            continue
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            continue
        if python_type is dt.datetime:
            values[column.key] = dt.datetime.fromisoformat(value)
        elif python_type is dt.date:
            values[column.key] = dt.date.fromisoformat(value)
    return values


def dumps(data: dict[str, Any]) -> str:
    """Serialise an export deterministically."""
    return json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False) + "\n"


def is_empty(session: Session) -> bool:
    """Return whether the ledger holds no data rows."""
    return all(session.exec(select(model).limit(1)).first() is None for _name, model in _tables())


def import_data(session: Session, data: dict[str, Any]) -> dict[str, int]:
    """Load an export into an empty database, keeping ids."""
    if data.get("format") != FORMAT:
        raise ValueError(f"Not a ledger export (format {data.get('format')!r}, want {FORMAT!r}).")
    if not is_empty(session):
        raise ValueError("The database is not empty; import only into a fresh database.")
    counts = {}
    for name, model in _tables():
        rows = data.get(name, [])
        deferred: list[tuple[int, int]] = []
        self_ref = SELF_REFERENCES.get(name)
        for raw in rows:
            values = _typed(model, raw)
            if self_ref and values.get(self_ref) is not None:
                deferred.append((values["id"], values[self_ref]))
                values[self_ref] = None
            session.add(model.model_validate(values))
        session.flush()
        for row_id, ref in deferred:
            row = session.get(model, row_id)
            setattr(row, self_ref, ref)  # type: ignore[arg-type]
            session.add(row)
        session.flush()
        counts[name] = len(rows)
    _reset_sequences(session)
    history_service.bump_data_version(session)
    session.commit()
    return counts


def _reset_sequences(session: Session) -> None:
    """Move PostgreSQL id sequences past the imported ids."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for _name, model in _tables():
        table = model.__tablename__
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
        )
