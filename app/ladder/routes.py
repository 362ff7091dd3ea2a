"""JSON API for the status ladder and its exit criteria."""

from typing import Any

from fastapi import APIRouter

from app.core.errors import COMMON_RESPONSES
from app.ladder.models import StatusLevel, StatusLevelPublic
from app.status.rules import load_levels
from app.status.verdicts import load_rules

router = APIRouter(prefix="/api/v1", tags=["ladder"], responses=COMMON_RESPONSES)


@router.get("/status-levels", response_model=list[StatusLevelPublic])
def list_levels() -> list[StatusLevel]:
    """Return the ladder, lowest first, with the evidence each level accepts."""
    return list(load_levels())


@router.get("/verdict-rules")
def verdict_rules() -> dict[str, Any]:
    """Return the claim verdict rules: stances, deciding grades and verdicts, in order."""
    return dict(load_rules().raw)
