"""HTTP helpers: ETags and If-Match, keyset pagination, list envelopes."""

import base64
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from app.core.encoding import tag_list
from app.core.errors import ProblemError
from app.core.limits import InputError, check_number, check_text, parse_json

T = TypeVar("T")
DB_ID_MAX = 2_147_483_647  # ids are 32-bit integers on PostgreSQL
IdPath = Annotated[int, Path(ge=1, le=DB_ID_MAX, description="Numeric id.")]
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """One page of a list, with the cursor of the next page."""

    items: list[T]
    next_cursor: str | None = None
    limit: int


def etag_for(kind: str, entity_id: int, version: int) -> str:
    """Return the strong ETag of one entity version."""
    return f'"{kind}-{entity_id}-v{version}"'


def check_if_match(request: Request, current_etag: str) -> None:
    """Require If-Match and reject a stale one (428 / 412)."""
    header = request.headers.get("if-match")
    if header is None:
        raise ProblemError(
            428,
            "Precondition required",
            "Send If-Match with the ETag from your last GET, so concurrent edits are not lost.",
            current_etag=current_etag,
        )
    candidates = tag_list(header)
    if current_etag not in candidates and "*" not in candidates:
        raise ProblemError(
            412,
            "Precondition failed",
            "The resource changed since you read it; GET it again and re-apply your change.",
            current_etag=current_etag,
        )


def matched_version(request: Request, current_etag: str, version: int) -> int | None:
    """Check If-Match and return the version it names, which the write must still find.

    `*` names no version (any current one will do); the write is still serialised.
    """
    check_if_match(request, current_etag)
    return None if request.headers.get("if-match", "").strip() == "*" else version


def _encode_cursor(sort: str, value: Any, entity_id: int) -> str:
    if isinstance(value, dt.date | dt.datetime):
        value = value.isoformat()
    raw = json.dumps({"s": sort, "v": value, "id": entity_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CURSOR_EXPIRED = (
    "This link has expired or was altered: its page position cannot be read. "
    "Go back to the first page of the list and page on from there."
)


def invalid_cursor(reason: str) -> ProblemError:
    """Return the 400 for a cursor that cannot be used; `reason` says why, for the API."""
    return ProblemError(400, "Invalid cursor", CURSOR_EXPIRED, reason=reason)


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        # Strict JSON: a forged cursor may not smuggle NaN, NUL or integers beyond int64.
        data = parse_json(base64.urlsafe_b64decode(padded.encode()), max_depth=2)
        if not isinstance(data, dict):
            raise ValueError("the cursor is not an object")
        if data["s"] != sort or not isinstance(data["id"], int) or isinstance(data["id"], bool):
            raise ValueError(f"the cursor belongs to another sort order than '{sort}'")
        if not 0 <= data["id"] <= DB_ID_MAX or isinstance(data["v"], dict | list | bool):
            raise ValueError("the cursor position is out of range")
        return data["v"], data["id"]
    except (InputError, ValueError, KeyError, TypeError) as exc:
        raise invalid_cursor(str(exc) or type(exc).__name__) from exc


def _coerce(value: Any, sample_type: type) -> Any:
    if value is None:
        return None
    try:
        if sample_type is dt.date:
            return dt.date.fromisoformat(value)
        if sample_type is dt.datetime:
            return dt.datetime.fromisoformat(value)
        if sample_type is float:
            return check_number(float(value))
        if sample_type is int:
            return check_number(int(value))
        return check_text(str(value))
    except (TypeError, ValueError, InputError) as exc:
        raise invalid_cursor(f"the cursor's value is malformed: {exc}") from exc


def keyset_page(
    session: Session,
    statement: SelectOfScalar[Any],
    *,
    id_column: Any,
    sort: str,
    sortable: Mapping[str, tuple[Any, type, Any]],
    limit: int,
    cursor: str | None,
    row_value: Callable[[Any], Any] | None = None,
) -> tuple[Sequence[Any], str | None]:
    """Run `statement` one keyset page at a time, stable under inserts.

    `sortable` maps a sort name to (column, python type, sentinel for NULLs); a computed
    sort key (not a column of the row) gives `row_value` to read a row's key for the cursor.
    """
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name not in sortable:
        raise ProblemError(
            400, "Invalid sort", f"Cannot sort by '{name}'; use one of: {', '.join(sortable)}."
        )
    column, value_type, sentinel = sortable[name]
    key: ColumnElement[Any] = func.coalesce(column, sentinel) if sentinel is not None else column
    if cursor:
        raw_value, last_id = _decode_cursor(cursor, sort)
        value = _coerce(raw_value, value_type)
        if value is None:
            if sentinel is None:  # this sort key is never NULL: a null position was forged
                raise invalid_cursor("the cursor's value is null")
            value = sentinel
        after = (
            or_(key < value, and_(key == value, id_column < last_id))
            if descending
            else or_(key > value, and_(key == value, id_column > last_id))
        )
        statement = statement.where(after)
    order = (key.desc(), id_column.desc()) if descending else (key.asc(), id_column.asc())
    rows = session.exec(statement.order_by(*order).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        last_value = row_value(last) if row_value else getattr(last, column.key)
        next_cursor = _encode_cursor(sort, last_value, last.id)
    return rows, next_cursor


def count(session: Session, statement: SelectOfScalar[Any]) -> int:
    """Count the rows a statement would return."""
    return session.exec(select(func.count()).select_from(statement.subquery())).one()
