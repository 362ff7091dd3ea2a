"""JSON API for sources (read-only: they come from the seed data)."""

from typing import Annotated

from fastapi import APIRouter, Path

from app.core.db import SessionDep
from app.core.errors import COMMON_RESPONSES
from app.sources import service
from app.sources.models import SOURCE_KEY_PATTERN, SourcePublic

router = APIRouter(prefix="/api/v1", tags=["sources"], responses=COMMON_RESPONSES)


@router.get("/sources", response_model=list[SourcePublic])
def list_sources(session: SessionDep) -> list[SourcePublic]:
    """List every cited source with its outlet, title, date and grade."""
    return service.list_all(session)


@router.get("/sources/{key}", response_model=SourcePublic)
def get_source(
    session: SessionDep,
    key: Annotated[str, Path(max_length=20, pattern=SOURCE_KEY_PATTERN)],
) -> SourcePublic:
    """Return one source by its key (e.g. S01)."""
    return service.get_public(session, key)
