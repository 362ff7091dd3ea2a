"""Small read helpers the pages share; the domain logic stays in the services."""

from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from app.benchmarks import service as benchmarks_service
from app.capabilities import service as cap_service
from app.capabilities.models import CapabilityPublic
from app.history.models import StatusChange
from app.status import history as history_service
from app.status import snapshot


def capabilities_with_depth(session: Session) -> list[tuple[CapabilityPublic, int]]:
    """Return every capability in hierarchy order with its depth."""
    snap = snapshot.get(session)
    publics = {c.slug: c for c in cap_service.list_public(session)}
    return [(publics[cap.slug], depth) for cap, depth in cap_service.hierarchy_order(snap)]


def history(
    session: Session,
    capability_id: int | None = None,
    *,
    newest_first: bool = True,
    limit: int | None = None,
) -> list[StatusChange]:
    """Return status changes, for one capability or all."""
    order = col(StatusChange.id).desc() if newest_first else col(StatusChange.id).asc()
    statement = history_service.history_statement(capability_id).order_by(order)
    if limit:
        statement = statement.limit(limit)
    return list(session.exec(statement).all())


def simulated_by_claim(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Return what the latest simulations say about each claim (tests, findings, assumptions)."""
    try:
        return dict(benchmarks_service.latest_comparisons_for_claims(session) or {})
    except SQLAlchemyError:  # the runs table may not be migrated yet; the page still renders
        session.rollback()
        return {}
