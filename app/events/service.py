"""Events: list, get, create, update."""

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core import as_of, lookup
from app.core.as_of import known_by
from app.core.errors import ProblemError
from app.core.http import keyset_page
from app.core.schema import precision_problem
from app.events.models import Event, EventCreate, EventPublic, EventUpdate
from app.status.history import EVENTS, bump_data_version
from app.status.unit_of_work import guarded_update

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
    day = as_of.current()
    if day is not None:  # as of a past day: the events surely held by then
        statement = statement.where(known_by(Event.date, Event.date_precision, day))
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
    bump_data_version(session, EVENTS)
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent writer took the slug first
        session.rollback()
        raise lookup.taken(Event, data.slug) from exc
    session.refresh(event)
    return event


def update(
    session: Session, event: Event, data: EventUpdate, *, expected_version: int | None = None
) -> Event:
    """Apply a partial update to an event, if it is still at the version the editor read.

    Events move no status, so the version guard alone decides a race.
    """
    changes = data.model_dump(exclude_unset=True)
    problem = precision_problem(
        changes.get("date", event.date), changes.get("date_precision", event.date_precision)
    )
    if problem:
        raise ProblemError(422, "Invalid date", f"date: {problem}.")
    try:
        guarded_update(session, event, changes, expected_version)
        bump_data_version(session, EVENTS)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(event)
    return event
