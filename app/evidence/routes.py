"""JSON API for evidence."""

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.auth.dependencies import Writer, actor_of
from app.core.cache import cached_json
from app.core.db import SessionDep
from app.core.errors import COMMON_RESPONSES, WRITE_RESPONSES
from app.core.http import MAX_LIMIT, IdPath, Page, etag_for, matched_version
from app.core.schema import Grade
from app.evidence import service
from app.evidence.checks import ChecksFilter
from app.evidence.models import (
    EvidenceCreate,
    EvidenceKind,
    EvidencePublic,
    EvidenceUpdate,
    Origin,
    Stance,
)

router = APIRouter(prefix="/api/v1", tags=["evidence"], responses=COMMON_RESPONSES)


@router.get("/evidence", response_model=Page[EvidencePublic])
async def list_evidence(
    request: Request,
    capability: str | None = Query(default=None, max_length=120),
    claim: str | None = Query(default=None, max_length=120),
    kind: EvidenceKind | None = None,
    origin: Origin | None = None,
    grade: Grade | None = None,
    stance: Stance | None = None,
    q: str | None = Query(default=None, max_length=200),
    checks: ChecksFilter = Query(
        default="include",
        description="The ledger's own arithmetic checks and simulation runs: `include` them "
        "with the evidence about the world, `exclude` them, or list `only` them.",
    ),
    sort: str = Query(default="date", pattern=r"^-?(date|slug|id)$"),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=500),
) -> Response:
    """List evidence with filters, sorting and keyset pagination."""

    def build(session: Session) -> tuple[object, dict[str, str]]:
        items, next_cursor = service.list_page(
            session,
            capability=capability,
            claim=claim,
            kind=kind,
            origin=origin,
            grade=grade,
            stance=stance,
            q=q,
            checks=checks,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
        return {"items": items, "next_cursor": next_cursor, "limit": limit}, {}

    return await cached_json(request, build)


@router.get("/evidence/{evidence_id}", response_model=EvidencePublic)
def get_evidence(evidence_id: IdPath, session: SessionDep, response: Response) -> EvidencePublic:
    """Return one evidence item."""
    item = service.get_public(session, evidence_id)
    response.headers["ETag"] = etag_for("evidence", item.id, item.version)
    return item


@router.post("/evidence", response_model=EvidencePublic, status_code=201, responses=WRITE_RESPONSES)
def create_evidence(
    data: EvidenceCreate, session: SessionDep, token: Writer, response: Response
) -> EvidencePublic:
    """Add evidence; the capability's status is re-computed and any change is logged."""
    item = service.create(session, data, actor=actor_of(token))
    assert item.id is not None
    response.headers["Location"] = f"/api/v1/evidence/{item.id}"
    response.headers["ETag"] = etag_for("evidence", item.id, item.version)
    return service.get_public(session, item.id)


@router.patch("/evidence/{evidence_id}", response_model=EvidencePublic, responses=WRITE_RESPONSES)
def update_evidence(
    evidence_id: IdPath,
    data: EvidenceUpdate,
    request: Request,
    session: SessionDep,
    token: Writer,
    response: Response,
) -> EvidencePublic:
    """Edit an evidence item; send If-Match with its ETag."""
    item = service.get(session, evidence_id)
    expected = matched_version(
        request, etag_for("evidence", evidence_id, item.version), item.version
    )
    item = service.update(session, item, data, actor=actor_of(token), expected_version=expected)
    response.headers["ETag"] = etag_for("evidence", evidence_id, item.version)
    return service.get_public(session, evidence_id)
