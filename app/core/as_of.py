"""The day a read shows the ledger as of: `?as_of=YYYY-MM-DD` on any read, page or API.

`read_as_of` (an app-wide dependency) checks the parameter and keeps the day in a context
variable for the length of the request; the snapshot (`app.status.snapshot.get`) reads it and
hands every service the ledger as it stood that day. A read without it shows today.

Date precision is read conservatively: a row counts on a day only when it was surely
published by then, that is when the last day its date can stand for has come. An item dated
"Aug 2021" (month precision) counts from 31 Aug 2021, so not on 19 Aug 2021; one dated "2021"
counts from 31 Dec 2021.
"""

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from fastapi import Request
from sqlalchemy import ColumnElement, and_, or_

from app.core.config import get_settings
from app.core.errors import ProblemError
from app.core.schema import period_end

PARAM = "as_of"
EARLIEST = dt.date(2000, 1, 1)
_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_day: ContextVar[dt.date | None] = ContextVar("ledger_as_of", default=None)


def today() -> dt.date:
    """Return today's date (fixed by LEDGER_TODAY when set, for reproducible output)."""
    fixed = get_settings().today
    return dt.date.fromisoformat(fixed) if fixed else dt.date.today()


def parse(value: str | None, now: dt.date | None = None) -> dt.date | None:
    """Return the day asked for, None for today, or raise ValueError saying what is allowed."""
    if value is None or value == "":
        return None
    now = now or today()
    allowed = f"as_of must be a date YYYY-MM-DD from {EARLIEST.isoformat()} to {now.isoformat()}"
    if len(value) > 10 or not _PATTERN.match(value):
        raise ValueError(f"{allowed}; got '{value[:20]}'.")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{allowed}; '{value}' is not a calendar date.") from None
    if not EARLIEST <= day <= now:
        raise ValueError(f"{allowed}; {value} is outside that range.")
    return None if day == now else day


def current() -> dt.date | None:
    """Return the day this read shows the ledger as of, or None for today."""
    return _day.get()


@contextmanager
def viewing(day: dt.date | None) -> Iterator[None]:
    """Show the ledger as of a day inside the block (None: today)."""
    token = _day.set(day)
    try:
        yield
    finally:
        _day.reset(token)


async def read_as_of(request: Request) -> None:
    """Keep this request's as_of for the snapshot; refuse a bad one (API 422, pages 400)."""
    raw = request.query_params.get(PARAM) if request.method in ("GET", "HEAD") else None
    try:
        day = parse(raw)
    except ValueError as exc:
        status = 422 if request.url.path.startswith("/api/") else 400
        raise ProblemError(status, "Invalid as_of", str(exc), field=PARAM) from None
    # Set on every request (to None too): nothing carries over from another request.
    _day.set(day)


def surely_by(start: dt.date, precision: str, day: dt.date) -> bool:
    """Return whether a date known to this precision surely lies on or before the day."""
    return period_end(start, precision) <= day


def precision_cutoffs(day: dt.date) -> dict[str, dt.date]:
    """Return, per precision, the first stored date that is NOT surely by the day.

    A month or year date is stored as its period's first day; it is surely by the day when the
    whole period has ended by then, i.e. when it starts before the period holding the next day.
    """
    following = day + dt.timedelta(days=1)
    return {
        "day": following,
        "month": following.replace(day=1),
        "year": following.replace(month=1, day=1),
    }


def known_by(date_column: Any, precision_column: Any, day: dt.date) -> ColumnElement[bool]:
    """Return the SQL condition: the row's date (at its precision) is surely by the day."""
    cut = precision_cutoffs(day)
    return or_(
        *(and_(precision_column == name, date_column < first) for name, first in cut.items())
    )
