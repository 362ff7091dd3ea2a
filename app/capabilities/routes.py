"""JSON API for capabilities, their status updates and their history."""

from fastapi import APIRouter, Body, Query, Request, Response
from sqlmodel import Session, col

from app.auth.dependencies import Writer, actor_of
from app.capabilities import service
from app.capabilities.models import (
    CapabilityCreate,
    CapabilityKind,
    CapabilityPublic,
    CapabilityUpdate,
    StatusUpdate,
)
from app.core.cache import cached_json
from app.core.db import SessionDep
from app.core.errors import COMMON_RESPONSES, WRITE_RESPONSES, ProblemError
from app.core.http import MAX_LIMIT, Page, etag_for, keyset_page, matched_version
from app.core.schema import Level
from app.history.models import ReasonCode, StatusChange, StatusChangePublic
from app.status import history as history_service
from app.status import snapshot

router = APIRouter(prefix="/api/v1", tags=["capabilities"], responses=COMMON_RESPONSES)
HISTORY_SORT = {"recorded_at": (col(StatusChange.id), int, None)}


def _with_etag(response: Response, cap: CapabilityPublic) -> CapabilityPublic:
    response.headers["ETag"] = etag_for("capability", cap.id, cap.version)
    return cap


@router.get("/capabilities", response_model=Page[CapabilityPublic])
async def list_capabilities(
    request: Request,
    status: Level | None = None,
    kind: CapabilityKind | None = None,
    parent: str | None = Query(default=None, max_length=120),
    gap_only: bool = Query(default=False, description="Only those claimed above their evidence."),
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=200, description="Slug to start after."),
) -> Response:
    """List capabilities in hierarchy order with their computed status."""

    def build(session: Session) -> tuple[object, dict[str, str]]:
        items = service.list_public(
            session, status=status, kind=kind, parent=parent, gap_only=gap_only
        )
        start = 0
        if cursor:
            slugs = [c.slug for c in items]
            if cursor not in slugs:
                raise ProblemError(400, "Invalid cursor", f"No capability '{cursor}' in this list.")
            start = slugs.index(cursor) + 1
        page = items[start : start + limit]
        more = start + limit < len(items)
        next_cursor = page[-1].slug if more and page else None
        return {"items": page, "next_cursor": next_cursor, "limit": limit}, {}

    return await cached_json(request, build)


@router.get("/capabilities/{slug}", response_model=CapabilityPublic)
def get_capability(slug: str, session: SessionDep, response: Response) -> CapabilityPublic:
    """Return one capability: evidence status, claimed status, gap, roll-up and overdue claims."""
    return _with_etag(response, service.get_public(session, slug))


@router.post(
    "/capabilities", response_model=CapabilityPublic, status_code=201, responses=WRITE_RESPONSES
)
def create_capability(
    data: CapabilityCreate, session: SessionDep, token: Writer, response: Response
) -> CapabilityPublic:
    """Create a capability."""
    cap = service.create(session, data, actor=actor_of(token))
    response.headers["Location"] = f"/api/v1/capabilities/{cap.slug}"
    return _with_etag(response, service.get_public(session, cap.slug))


@router.patch("/capabilities/{slug}", response_model=CapabilityPublic, responses=WRITE_RESPONSES)
def update_capability(
    slug: str,
    data: CapabilityUpdate,
    request: Request,
    session: SessionDep,
    token: Writer,
    response: Response,
) -> CapabilityPublic:
    """Edit a capability; send If-Match with its ETag."""
    cap = service.get_by_slug(session, slug)
    expected = matched_version(
        request, etag_for("capability", cap.id or 0, cap.version), cap.version
    )
    cap = service.update(session, cap, data, actor=actor_of(token), expected_version=expected)
    return _with_etag(response, service.get_public(session, cap.slug))


@router.post(
    "/capabilities/{slug}/status", response_model=CapabilityPublic, responses=WRITE_RESPONSES
)
def update_status(
    slug: str,
    request: Request,
    session: SessionDep,
    token: Writer,
    response: Response,
    data: StatusUpdate = Body(
        openapi_examples={
            "override": {
                "summary": "Override with a reason",
                "value": {
                    "status": "tested",
                    "reason_code": ReasonCode.override.value,
                    "reason": "Cabinet power test shown at AI Day 2022",
                },
            },
            "evidence": {
                "summary": "Link evidence",
                "value": {"evidence_ids": [1], "reason": "Photo of the tray"},
            },
        }
    ),
) -> CapabilityPublic:
    """Change a capability's status: override it with a reason, or link evidence.

    Send If-Match with the capability's ETag. Every change is appended to its history.
    """
    cap = service.get_by_slug(session, slug)
    expected = matched_version(
        request, etag_for("capability", cap.id or 0, cap.version), cap.version
    )
    cap = service.update_status(
        session, cap, data, actor=actor_of(token), expected_version=expected
    )
    if data.legacy_reason:
        response.headers["Deprecation"] = "true"
        response.headers["Warning"] = (
            f"299 - \"reason_code '{data.reason_code}' is not a ReasonCode; accepted for "
            'this release, refused from the next"'
        )
    return _with_etag(response, service.get_public(session, cap.slug))


def _history_page(
    session: Session, capability_id: int | None, limit: int, cursor: str | None, sort: str
) -> dict[str, object]:
    snap = snapshot.get(session)
    rows, next_cursor = keyset_page(
        session,
        history_service.history_statement(capability_id),
        id_column=col(StatusChange.id),
        sort=sort,
        sortable=HISTORY_SORT,
        limit=limit,
        cursor=cursor,
    )
    items = [
        StatusChangePublic.model_validate(
            row, update={"capability": snap.capability_slug.get(row.capability_id, "?")}
        )
        for row in rows
    ]
    return {"items": items, "next_cursor": next_cursor, "limit": limit}


@router.get("/capabilities/{slug}/history", response_model=Page[StatusChangePublic])
def capability_history(
    slug: str,
    session: SessionDep,
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=200),
    sort: str = Query(default="recorded_at", pattern=r"^-?recorded_at$"),
) -> dict[str, object]:
    """Return the append-only status history of one capability."""
    cap = service.get_by_slug(session, slug)
    return _history_page(session, cap.id, limit, cursor, sort)


@router.get("/changes", response_model=Page[StatusChangePublic], tags=["history"])
def changes_feed(
    session: SessionDep,
    limit: int = Query(default=100, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=200),
    sort: str = Query(default="-recorded_at", pattern=r"^-?recorded_at$"),
) -> dict[str, object]:
    """Return every status change, newest first by default."""
    return _history_page(session, None, limit, cursor, sort)
