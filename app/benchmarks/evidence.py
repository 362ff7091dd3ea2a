"""Turn a finished run into evidence on the capabilities and claims it bears on."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from app.benchmarks.models import BenchmarkRun, RunState
from app.benchmarks.service import comparisons
from app.capabilities.models import Capability
from app.claims.models import Claim
from app.core.db import take_write_lock
from app.core.schema import Grade
from app.evidence import service as evidence_service
from app.evidence.models import Evidence, EvidenceCreate, EvidenceKind, Origin, Stance

ACTOR = "benchmark-runner"


def _claim_capability(session: Session, claim_slug: str) -> str | None:
    claim = session.exec(select(Claim).where(Claim.slug == claim_slug)).first()
    if claim is None:
        return None
    cap = session.get(Capability, claim.capability_id)
    return cap.slug if cap else None


# What a run's comparison with a claim records as evidence: only a test of a figure the
# scenario predicts. An assumed figure is only its input echoed, and a finding (a prediction
# the claim did not state) is shown beside the claim from the run's result; neither is
# evidence either way. A test that holds only under an assumption is inconclusive under it.
STANCE_OF = {
    "consistent": Stance.supports,
    "contradicts": Stance.contradicts,
    "inconclusive": Stance.inconclusive,
}


def _figure(value: Any) -> str:
    """A number as a reader writes it: 22.656, not 22.656000000000002; 362, not 362.0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    rounded = round(float(value), 3)
    return f"{rounded:,.0f}" if rounded.is_integer() else f"{rounded:,}"


def _summary(run: BenchmarkRun, comparison: dict[str, Any] | None) -> str:
    if comparison is not None:
        verdict = str(comparison.get("verdict", "compared"))
        if verdict == "consistent":
            verdict = "consistent with the claim (a computation, not a measurement)"
        if comparison.get("assumption"):
            verdict += f": holds only if {comparison['assumption']}"
        unit = comparison.get("unit", "")
        claimed, simulated = (
            _figure(comparison.get("claimed")),
            _figure(comparison.get("simulated")),
        )
        # The relation reads "simulated <relation> claimed": a bound is not a matching figure.
        against = {
            "<=": f"a simulated lower bound of {simulated} {unit}",
            ">=": f"a simulated upper bound of {simulated} {unit}",
        }.get(str(comparison.get("relation")))
        said = (
            f"Claimed {claimed} {unit} vs {against}"
            if against
            else f"Claimed {claimed} vs simulated {simulated} {unit}"
        )
        return f"{said}: {verdict}. {comparison.get('note', '')}".strip()
    result = run.result or {}
    headline = result.get("headline") or result.get("summary") or result.get("bottleneck")
    return f"Simulation '{run.title}' on {run.hardware}: {headline or 'see the run'}."


@dataclass(frozen=True)
class Recorded:
    """What a finished run left in the ledger: its own items, or the run it repeated."""

    items: list[Evidence] = field(default_factory=list)
    reproduces: BenchmarkRun | None = None


# Finishers of runs decide "new check or repetition" one at a time, so two runs of the same
# spec finishing together cannot both record the same check.
_RECORDING_LOCK_KEY = 0x7265636F7264  # "record"


def record_as_evidence(session: Session, run: BenchmarkRun) -> Recorded:
    """Store one evidence item per predicted figure tested (per capability if it compares none).

    Simulations never raise a status; a comparison that contradicts a figure says so. Runs
    whose comparisons only echo assumed inputs or state findings record nothing here. A run
    that repeats the latest original run of the same spec figure for figure records nothing
    either and names that run: the same computation twice is one check, not two.
    """
    assert run.id is not None
    if session.exec(select(Evidence).where(Evidence.benchmark_run_id == run.id)).first():
        return Recorded()  # already recorded (a recovered run finishing twice records once)
    batch = _statements(session, run)
    take_write_lock(session, _RECORDING_LOCK_KEY)
    earlier = _latest_original(session, run)
    if earlier is not None and _same_check(session, earlier, run, batch):
        return Recorded(reproduces=earlier)
    if not batch:
        return Recorded()
    # One unit of work for the whole run: one lock and one re-assessment, not one per item.
    items = evidence_service.create_many(session, batch, actor=ACTOR, benchmark_run_id=run.id)
    return Recorded(items=items)


def _statements(session: Session, run: BenchmarkRun) -> list[EvidenceCreate]:
    """Return the evidence a run's result states, one item per predicted figure tested."""
    today = (run.finished_at or run.created_at).date() if run.finished_at else dt.date.today()
    items = comparisons(run.result or {})
    targets: list[tuple[str, str | None, dict[str, Any] | None]] = []
    for item in items:
        if item.get("verdict") not in STANCE_OF or item.get("role") == "assumed":
            continue  # assumed inputs and findings are shown from the run's result
        claim_slug = item.get("claim")
        capability = _claim_capability(session, claim_slug) if claim_slug else None
        if capability:
            targets.append((capability, claim_slug, item))
    if not targets and not items:
        targets = [(slug, None, None) for slug in run.capability_slugs or []]
    batch: list[EvidenceCreate] = []
    for capability, claim_slug, comparison in targets:
        if session.exec(select(Capability.id).where(Capability.slug == capability)).first() is None:
            continue
        stance = STANCE_OF[comparison["verdict"]] if comparison else Stance.supports
        batch.append(
            EvidenceCreate(
                slug=None,
                title=f"Simulation run #{run.id}: {run.title}"[:300],
                summary=_summary(run, comparison),
                kind=EvidenceKind.simulation_run,
                origin=Origin.computed,
                grade=Grade.D,
                source_key=None,
                url=None,
                date=today,
                stance=stance,
                assumption=(comparison or {}).get("assumption") or None,
                level=None,
                capability=capability,
                claim=claim_slug,
            )
        )
    return batch


def _latest_original(session: Session, run: BenchmarkRun) -> BenchmarkRun | None:
    """Return the newest other succeeded run of the same mode and spec that repeated none."""
    if run.spec_digest is None:
        return None
    return session.exec(
        select(BenchmarkRun)
        .where(
            BenchmarkRun.spec_digest == run.spec_digest,
            BenchmarkRun.state == RunState.succeeded.value,
            col(BenchmarkRun.reproduces_run_id).is_(None),
            col(BenchmarkRun.id) != run.id,
        )
        .order_by(col(BenchmarkRun.id).desc())
        .limit(1)
    ).first()


Statement = tuple[str, str | None, str | None, str, str | None]


def _same_check(
    session: Session, earlier: BenchmarkRun, run: BenchmarkRun, batch: list[EvidenceCreate]
) -> bool:
    """Whether `run` states what `earlier` stated and still has on record, figure for figure.

    The spec, every comparison the pages show (findings and assumed inputs too), and the
    evidence items, compared with the earlier run's items as they stand: an item since
    edited or removed no longer holds the check, and the run records it again.
    """
    if earlier.mode != run.mode or earlier.spec != run.spec:  # a digest is no proof
        return False
    if comparisons(earlier.result or {}) != comparisons(run.result or {}):
        return False
    on_record: list[Statement] = [
        (capability, claim, item.summary, str(item.stance), item.assumption)
        for item, capability, claim in session.exec(
            select(Evidence, Capability.slug, Claim.slug)
            .join(Capability, col(Capability.id) == col(Evidence.capability_id))
            .outerjoin(Claim, col(Claim.id) == col(Evidence.claim_id))
            .where(Evidence.benchmark_run_id == earlier.id)
        ).all()
    ]
    stated: list[Statement] = [
        (item.capability, item.claim, item.summary, str(item.stance), item.assumption)
        for item in batch
    ]
    return sorted(on_record, key=repr) == sorted(stated, key=repr)
