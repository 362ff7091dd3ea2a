"""Sources: look up by key and format the citation readers see instead of the key."""

import datetime as dt
from collections.abc import Iterable

from sqlmodel import Session, col, select

from app.core.errors import not_found
from app.core.schema import shown_date
from app.sources.models import Source, SourceCreate, SourcePublic


def format_date(day: dt.date | None, precision: str | None) -> str:
    """Format a date as citations do, no more precisely than known: '19 Aug 2021', 'Aug 2021'."""
    if day is None:
        return ""
    if precision in (None, "day"):
        return f"{day.day} {day:%b %Y}"
    return shown_date(day, precision)


def citation(source: Source | SourceCreate) -> str:
    """Return the citation: Outlet, “Title”, date (the date only when known)."""
    parts = [source.outlet, f"“{source.title}”"]
    if source.date is not None:
        parts.append(format_date(source.date, source.date_precision))
    return ", ".join(parts)


def to_public(source: Source) -> SourcePublic:
    """Return the public form of a source, with its citation."""
    return SourcePublic.model_validate(source, update={"citation": citation(source)})


def list_all(session: Session) -> list[SourcePublic]:
    """Return every source in index order."""
    return [to_public(s) for s in session.exec(select(Source).order_by(col(Source.id)))]


def get_public(session: Session, key: str) -> SourcePublic:
    """Return one source by key (404 when unknown)."""
    source = session.exec(select(Source).where(Source.key == key)).first()
    if source is None:
        raise not_found("source", key)
    return to_public(source)


def by_keys(session: Session, keys: Iterable[str | None]) -> dict[str, SourcePublic]:
    """Return the sources for the given keys, for a page to cite them."""
    wanted = sorted({k for k in keys if k})
    if not wanted:
        return {}
    rows = session.exec(select(Source).where(col(Source.key).in_(wanted)))
    return {s.key: to_public(s) for s in rows}


def add_missing(session: Session, entries: Iterable[dict[str, object]]) -> int:
    """Insert the sources whose key is not stored yet; return how many were added."""
    known = set(session.exec(select(Source.key)))
    added = 0
    for entry in entries:
        data = SourceCreate.model_validate(entry)
        if data.key in known:
            continue
        session.add(Source.model_validate(data))
        known.add(data.key)
        added += 1
    return added
