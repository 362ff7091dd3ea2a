"""The comparison page: Dojo beside its contemporaries (`/compare`)."""

from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session

from app.benchmarks import contemporaries
from app.dashboard.templating import page
from app.sources import service as sources_service

router = APIRouter(include_in_schema=False)


@router.get("/compare")
async def compare_page(request: Request):
    """GPT-3 175B and a vision network on an ExaPOD, the 2021 A100 and a 2023 H100 cluster."""

    def build(session: Session) -> dict[str, Any]:
        return {
            **contemporaries.comparison(),
            "sources": sources_service.by_keys(session, contemporaries.source_keys()),
        }

    return await page(request, "compare.html", build)
