"""Turn a finished run into evidence on the capabilities and claims it bears on."""

import datetime as dt
from typing import Any

from sqlmodel import Session, select

from app.benchmarks.models import BenchmarkRun
from app.benchmarks.service import comparisons
from app.capabilities.models import Capability
from app.claims.models import Claim
from app.evidence import service as evidence_service
from app.evidence.models import Evidence, EvidenceCreate

ACTOR = "benchmark-runner"


def _claim_capability(session: Session, claim_slug: str) -> str | None:
    claim = session.exec(select(Claim).where(Claim.slug == claim_slug)).first()
    if claim is None:
        return None
    cap = session.get(Capability, claim.capability_id)
    return cap.slug if cap else None


def _summary(run: BenchmarkRun, comparison: dict[str, Any] | None) -> str:
    if comparison is not None:
        return (
            f"Claimed {comparison.get('claimed')} vs simulated {comparison.get('simulated')} "
            f"{comparison.get('unit', '')} — {comparison.get('verdict', 'compared')}. "
            f"{comparison.get('note', '')}"
        ).strip()
    result = run.result or {}
    headline = result.get("headline") or result.get("summary") or result.get("bottleneck")
    return f"Simulation '{run.title}' on {run.hardware}: {headline or 'see the run'}."


def record_as_evidence(session: Session, run: BenchmarkRun) -> list[Evidence]:
    """Store one analytical evidence item per claim compared (or per capability otherwise).

    Simulations never raise a status; a comparison that contradicts a figure says so.
    """
    assert run.id is not None
    if session.exec(select(Evidence).where(Evidence.benchmark_run_id == run.id)).first():
        return []  # already recorded (a recovered run finishing twice records once)
    today = (run.finished_at or run.created_at).date() if run.finished_at else dt.date.today()
    items = comparisons(run.result or {})
    targets: list[tuple[str, str | None, dict[str, Any] | None]] = []
    for item in items:
        if item.get("verdict") not in ("consistent", "contradicts"):
            continue  # 'info' rows are context shown with the run, not evidence either way
        claim_slug = item.get("claim")
        capability = _claim_capability(session, claim_slug) if claim_slug else None
        if capability:
            targets.append((capability, claim_slug, item))
    if not targets:
        targets = [(slug, None, None) for slug in run.capability_slugs or []]
    batch: list[EvidenceCreate] = []
    for capability, claim_slug, comparison in targets:
        if session.exec(select(Capability.id).where(Capability.slug == capability)).first() is None:
            continue
        contradicts = bool(comparison and comparison.get("verdict") == "contradicts")
        batch.append(
            EvidenceCreate(
                slug=None,
                title=f"Simulation run #{run.id}: {run.title}"[:300],
                summary=_summary(run, comparison),
                kind="simulation_run",  # type: ignore[arg-type]
                origin="computed",  # type: ignore[arg-type]
                grade="D",  # type: ignore[arg-type]
                source_key=None,
                url=None,
                date=today,
                stance="contradicts" if contradicts else "supports",  # type: ignore[arg-type]
                level=None,
                capability=capability,
                claim=claim_slug,
            )
        )
    if not batch:
        return []
    # One unit of work for the whole run: one lock and one re-assessment, not one per item.
    return evidence_service.create_many(session, batch, actor=ACTOR, benchmark_run_id=run.id)
