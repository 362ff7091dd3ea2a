"""Events: list, get, create, update."""

import datetime as dt

from sqlmodel import Session, col, select

from app.core import lookup
from app.core.http import keyset_page
from app.core.schema import utcnow
from app.events.models import Event, EventCreate, EventPublic, EventUpdate
from app.history.service import bump_data_version

SORTABLE = {
    "date": (col(Event.date), dt.date, None),
    "slug": (col(Event.slug), str, None),
    "id": (col(Event.id), int, None),
}


def list_page(
    session: Session,
    *,
    kind: str | None,
    q: str | None,
    sort: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[EventPublic], str | None]:
    """Return one page of events."""
    statement = select(Event)
    if kind:
        statement = statement.where(Event.kind == kind)
    if q:
        statement = statement.where(col(Event.name).ilike(f"%{q}%"))
    rows, next_cursor = keyset_page(
        session,
        statement,
        id_column=col(Event.id),
        sort=sort,
        sortable=SORTABLE,
        limit=limit,
        cursor=cursor,
    )
    return [EventPublic.model_validate(r) for r in rows], next_cursor


def get_by_slug(session: Session, slug: str) -> Event:
    """Return an event or raise 404."""
    return lookup.get_by_slug(session, Event, slug)


def create(session: Session, data: EventCreate) -> Event:
    """Create an event."""
    lookup.ensure_new_slug(session, Event, data.slug)
    event = Event.model_validate(data)
    session.add(event)
    bump_data_version(session)
    session.commit()
    session.refresh(event)
    return event


def update(session: Session, event: Event, data: EventUpdate) -> Event:
    """Apply a partial update to an event."""
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(event, key, value)
    event.version += 1
    event.updated_at = utcnow()
    session.add(event)
    bump_data_version(session)
    session.commit()
    session.refresh(event)
    return event
