"""JSON API for questions and their computed answers."""

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.auth.dependencies import Writer
from app.core.cache import cached_json
from app.core.db import SessionDep
from app.core.errors import COMMON_RESPONSES, WRITE_RESPONSES
from app.core.http import Page, etag_for, matched_version
from app.core.schema import Slug
from app.questions import service
from app.questions.models import QuestionCreate, QuestionPublic, QuestionUpdate

router = APIRouter(prefix="/api/v1", tags=["questions"], responses=COMMON_RESPONSES)


def _with_etag(response: Response, question: QuestionPublic) -> QuestionPublic:
    response.headers["ETag"] = etag_for("question", question.id, question.version)
    return question


@router.get("/questions", response_model=Page[QuestionPublic])
async def list_questions(
    request: Request,
    capability: Slug | None = Query(default=None, description="Only those bearing on it."),
) -> Response:
    """List the reader's questions with answers computed from the ledger (as_of: as then)."""

    def build(session: Session) -> tuple[object, dict[str, str]]:
        items = service.list_public(session, capability=capability)
        return {"items": items, "next_cursor": None, "limit": len(items)}, {}

    return await cached_json(request, build)


@router.get("/questions/{slug}", response_model=QuestionPublic)
def get_question(slug: str, session: SessionDep, response: Response) -> QuestionPublic:
    """Return one question with its computed answer."""
    return _with_etag(response, service.get_public(session, slug))


@router.post(
    "/questions", response_model=QuestionPublic, status_code=201, responses=WRITE_RESPONSES
)
def create_question(
    data: QuestionCreate, session: SessionDep, token: Writer, response: Response
) -> QuestionPublic:
    """Create a question; 422 if a link does not resolve or the summary contradicts the answer."""
    question = service.create(session, data)
    response.headers["Location"] = f"/api/v1/questions/{question.slug}"
    return _with_etag(response, service.get_public(session, question.slug))


@router.patch("/questions/{slug}", response_model=QuestionPublic, responses=WRITE_RESPONSES)
def update_question(
    slug: str,
    data: QuestionUpdate,
    request: Request,
    session: SessionDep,
    token: Writer,
    response: Response,
) -> QuestionPublic:
    """Edit a question; send If-Match with its ETag."""
    question = service.get_by_slug(session, slug)
    expected = matched_version(
        request, etag_for("question", question.id or 0, question.version), question.version
    )
    question = service.update(session, question, data, expected_version=expected)
    return _with_etag(response, service.get_public(session, question.slug))
