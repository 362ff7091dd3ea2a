"""Find rows by slug: one place for the 404, 409 and 422 answers every domain gives; and read
rows by many ids in bounded batches."""

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlmodel import Session, select

from app.core.errors import InvalidFilter, ProblemError, not_found

Row = TypeVar("Row")
IN_CHUNK = 500  # ids per IN (...) list: well inside every driver's parameter limit


def id_chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    """Yield the distinct ids, sorted, in lists of at most IN_CHUNK."""
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), IN_CHUNK):
        yield ordered[start : start + IN_CHUNK]


def by_slug(session: Session, model: type[Row], slug: str) -> Row | None:
    """Return the row with this slug, or None."""
    return session.exec(select(model).where(inspect(model).columns["slug"] == slug)).first()


def get_by_slug(session: Session, model: type[Row], slug: str) -> Row:
    """Return the row with this slug or raise 404."""
    row = by_slug(session, model, slug)
    if row is None:
        raise not_found(model.__name__.lower(), slug)
    return row


def id_for_slug(session: Session, model: Any, slug: str) -> int | None:
    """Return the id of the row with this slug, or None."""
    return session.exec(select(model.id).where(model.slug == slug)).first()


def filter_id(session: Session, model: Any, slug: str, field: str) -> int:
    """Return the id a list filter names, or raise InvalidFilter listing the slugs that exist."""
    found = id_for_slug(session, model, slug)
    if found is None:
        slugs = session.exec(select(model.slug).order_by(model.slug)).all()
        raise InvalidFilter(field, slug, slugs)
    return found


def require_id(session: Session, model: Any, slug: str, field: str) -> int:
    """Return the id a reference names, or raise 422 naming the field."""
    found = id_for_slug(session, model, slug)
    if found is None:
        raise ProblemError(
            422, "Unknown reference", f"{field}: no {model.__name__.lower()} '{slug}'."
        )
    return found


def taken(model: Any, slug: str) -> ProblemError:
    """Return the 409 answer for a slug that is taken."""
    return ProblemError(409, "Conflict", f"{model.__name__} '{slug}' already exists.")


def ensure_new_slug(session: Session, model: Any, slug: str) -> None:
    """Raise 409 when the slug is taken (the unique index still decides a race)."""
    if id_for_slug(session, model, slug) is not None:
        raise taken(model, slug)
