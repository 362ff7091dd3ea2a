"""JSON API for events."""

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.auth.dependencies import Writer
from app.core.cache import cached_json
from app.core.db import SessionDep
from app.core.errors import COMMON_RESPONSES, WRITE_RESPONSES
from app.core.http import MAX_LIMIT, Page, etag_for, matched_version
from app.events import service
from app.events.models import EventCreate, EventKind, EventPublic, EventUpdate

router = APIRouter(prefix="/api/v1", tags=["events"], responses=COMMON_RESPONSES)


@router.get("/events", response_model=Page[EventPublic])
async def list_events(
    request: Request,
    kind: EventKind | None = None,
    q: str | None = Query(default=None, max_length=200),
    sort: str = Query(default="date", pattern=r"^-?(date|slug|id)$"),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=500),
) -> Response:
    """List events (presentations, papers, calls, reports)."""

    def build(session: Session) -> tuple[object, dict[str, str]]:
        items, next_cursor = service.list_page(
            session, kind=kind, q=q, sort=sort, limit=limit, cursor=cursor
        )
        return {"items": items, "next_cursor": next_cursor, "limit": limit}, {}

    return await cached_json(request, build)


@router.get("/events/{slug}", response_model=EventPublic)
def get_event(slug: str, session: SessionDep, response: Response) -> EventPublic:
    """Return one event."""
    event = service.get_by_slug(session, slug)
    response.headers["ETag"] = etag_for("event", event.id or 0, event.version)
    return EventPublic.model_validate(event)


@router.post("/events", response_model=EventPublic, status_code=201, responses=WRITE_RESPONSES)
def create_event(
    data: EventCreate, session: SessionDep, token: Writer, response: Response
) -> EventPublic:
    """Create an event."""
    event = service.create(session, data)
    response.headers["Location"] = f"/api/v1/events/{event.slug}"
    response.headers["ETag"] = etag_for("event", event.id or 0, event.version)
    return EventPublic.model_validate(event)


@router.patch("/events/{slug}", response_model=EventPublic, responses=WRITE_RESPONSES)
def update_event(
    slug: str,
    data: EventUpdate,
    request: Request,
    session: SessionDep,
    token: Writer,
    response: Response,
) -> EventPublic:
    """Edit an event; send If-Match with its ETag."""
    event = service.get_by_slug(session, slug)
    expected = matched_version(
        request, etag_for("event", event.id or 0, event.version), event.version
    )
    event = service.update(session, event, data, expected_version=expected)
    response.headers["ETag"] = etag_for("event", event.id or 0, event.version)
    return EventPublic.model_validate(event)
