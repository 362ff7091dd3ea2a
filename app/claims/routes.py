"""JSON API for claims."""

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.auth.dependencies import Writer, actor_of
from app.claims import service
from app.claims.models import ClaimCreate, ClaimPublic, ClaimUpdate, Verdict
from app.core.cache import cached_json
from app.core.db import SessionDep
from app.core.errors import COMMON_RESPONSES, WRITE_RESPONSES
from app.core.http import MAX_LIMIT, Page, etag_for, matched_version
from app.core.schema import Grade, Level

router = APIRouter(prefix="/api/v1", tags=["claims"], responses=COMMON_RESPONSES)


@router.get("/claims", response_model=Page[ClaimPublic])
async def list_claims(
    request: Request,
    capability: str | None = Query(default=None, max_length=120),
    event: str | None = Query(default=None, max_length=120),
    grade: Grade | None = None,
    implied_status: Level | None = None,
    q: str | None = Query(
        default=None,
        max_length=200,
        description="Words to find in the text, metric or slug, in any order "
        "(each word matches a word or its start); ranked by the database's full-text search.",
    ),
    overdue: bool | None = None,
    contradicted: bool | None = None,
    verdict: Verdict | None = Query(default=None, description="Only claims with this verdict."),
    has_figure: bool | None = None,
    sort: str | None = Query(
        default=None,
        pattern=r"^-?(relevance|stated_on|deadline|value|slug|id)$",
        description="Field to sort by; prefix with '-' for descending. Default: 'relevance' "
        "(best match first) with a search, else 'stated_on'.",
    ),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(default=None, max_length=500),
) -> Response:
    """List claims with filters, search, sorting and keyset pagination."""

    def build(session: Session) -> tuple[object, dict[str, str]]:
        items, next_cursor = service.list_page(
            session,
            capability=capability,
            event=event,
            grade=grade,
            implied_status=implied_status,
            q=q,
            overdue=overdue,
            contradicted=contradicted,
            verdict=verdict,
            has_figure=has_figure,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
        return {"items": items, "next_cursor": next_cursor, "limit": limit}, {}

    return await cached_json(request, build)


@router.get("/claims/{slug}", response_model=ClaimPublic)
def get_claim(slug: str, session: SessionDep, response: Response) -> ClaimPublic:
    """Return one claim."""
    claim = service.get_public(session, slug)
    response.headers["ETag"] = etag_for("claim", claim.id, claim.version)
    return claim


@router.post("/claims", response_model=ClaimPublic, status_code=201, responses=WRITE_RESPONSES)
def create_claim(
    data: ClaimCreate, session: SessionDep, token: Writer, response: Response
) -> ClaimPublic:
    """Record a claim made at an event."""
    claim = service.create(session, data, actor=actor_of(token))
    response.headers["Location"] = f"/api/v1/claims/{claim.slug}"
    response.headers["ETag"] = etag_for("claim", claim.id or 0, claim.version)
    return service.get_public(session, claim.slug)


@router.patch("/claims/{slug}", response_model=ClaimPublic, responses=WRITE_RESPONSES)
def update_claim(
    slug: str,
    data: ClaimUpdate,
    request: Request,
    session: SessionDep,
    token: Writer,
    response: Response,
) -> ClaimPublic:
    """Edit a claim; send If-Match with its ETag."""
    claim = service.get_by_slug(session, slug)
    expected = matched_version(
        request, etag_for("claim", claim.id or 0, claim.version), claim.version
    )
    claim = service.update(session, claim, data, actor=actor_of(token), expected_version=expected)
    response.headers["ETag"] = etag_for("claim", claim.id or 0, claim.version)
    return service.get_public(session, claim.slug)
