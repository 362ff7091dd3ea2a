"""Compute the status each capability's evidence supports, and roll it up the hierarchy."""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, select

from app.capabilities.models import Capability, OverdueClaim, StatusAssessment
from app.claims.models import Claim
from app.core.schema import LEVEL_RANK, Level
from app.evidence.models import Evidence
from app.ladder.models import StatusLevel

# Analytical evidence can contradict a figure but never moves a capability up the ladder.
ANALYTICAL_KINDS = {"simulation_run", "analytical_check"}
INDEPENDENT_PROVENANCES = {"third_party", "independent_measurement"}
CLAIM_GRADES_THAT_COUNT = {"P", "S"}


@dataclass(frozen=True)
class Ladder:
    """The exit criteria of each level, as loaded from the database."""

    accepted_kinds: dict[str, frozenset[str]]
    accepted_grades: dict[str, frozenset[str]]

    @classmethod
    def from_rows(cls, levels: Iterable[StatusLevel]) -> "Ladder":
        """Build the rules from StatusLevel rows."""
        rows = list(levels)
        return cls(
            accepted_kinds={r.code: frozenset(r.accepted_evidence_kinds) for r in rows},
            accepted_grades={r.code: frozenset(r.accepted_grades) for r in rows},
        )

    def counts(self, evidence: Evidence) -> bool:
        """Return whether one evidence item meets the exit criteria of the level it supports."""
        if evidence.stance != "supports" or not evidence.level:
            return False
        if evidence.provenance == "simulation" or evidence.kind in ANALYTICAL_KINDS:
            return False
        return evidence.kind in self.accepted_kinds.get(
            evidence.level, frozenset()
        ) and evidence.grade in self.accepted_grades.get(evidence.level, frozenset())


def load_ladder(session: Session) -> Ladder:
    """Load the ladder rules."""
    return Ladder.from_rows(session.exec(select(StatusLevel)).all())


def _max_level(levels: Iterable[str]) -> Level:
    best = Level.not_assessed
    for code in levels:
        level = Level(code)
        if LEVEL_RANK[level] > LEVEL_RANK[best]:
            best = level
    return best


def claim_evidence(evidence: Iterable[Evidence]) -> tuple[set[int], set[int]]:
    """Return the ids of claims that sourced evidence supports, and of those contradicted.

    A supported claim's deadline counts as met; simulations never meet one.
    """
    supported: set[int] = set()
    contradicted: set[int] = set()
    for item in evidence:
        if item.claim_id is None:
            continue
        if item.stance == "contradicts":
            contradicted.add(item.claim_id)
        elif item.grade in CLAIM_GRADES_THAT_COUNT and item.provenance != "simulation":
            supported.add(item.claim_id)
    return supported, contradicted


def assess(
    capabilities: Sequence[Capability],
    claims: Sequence[Claim],
    evidence: Sequence[Evidence],
    ladder: Ladder,
    today: dt.date,
) -> dict[int, StatusAssessment]:
    """Assess every capability from the evidence, claims and hierarchy given."""
    by_id = {c.id: c for c in capabilities}
    children: dict[int, list[Capability]] = {c.id: [] for c in capabilities if c.id is not None}
    for cap in capabilities:
        if cap.parent_id in children:
            children[cap.parent_id].append(cap)

    counting: dict[int, list[Evidence]] = {}
    for item in evidence:
        if ladder.counts(item):
            counting.setdefault(item.capability_id, []).append(item)
    supported_claim_ids, contradicted_claim_ids = claim_evidence(evidence)

    claims_by_cap: dict[int, list[Claim]] = {}
    for claim in claims:
        claims_by_cap.setdefault(claim.capability_id, []).append(claim)

    results: dict[int, StatusAssessment] = {}

    def visit(cap: Capability) -> StatusAssessment:
        assert cap.id is not None
        if cap.id in results:
            return results[cap.id]
        own = counting.get(cap.id, [])
        evidence_status = _max_level(e.level for e in own if e.level)
        critical = [child for child in children.get(cap.id, []) if child.critical]
        child_results = [(child, visit(child)) for child in critical]
        limited_by = None
        rolled = evidence_status
        if child_results:
            weakest_child, weakest = min(child_results, key=lambda cr: LEVEL_RANK[cr[1].status])
            if not own:
                # No direct evidence: the parent is only as far along as its weakest critical part.
                rolled = weakest.status
                limited_by = weakest_child.slug
        qualifier = None
        if rolled == Level.benchmarked and own:
            independent = any(
                e.level == "benchmarked" and e.provenance in INDEPENDENT_PROVENANCES for e in own
            )
            qualifier = "independent" if independent else "vendor-reported"
        status = Level(cap.status_override) if cap.status_override else rolled
        cap_claims = claims_by_cap.get(cap.id, [])
        claimed = _max_level(
            c.implied_status for c in cap_claims if c.grade in CLAIM_GRADES_THAT_COUNT
        )
        overdue = sorted(
            (
                OverdueClaim(
                    slug=c.slug,
                    text=c.text,
                    deadline=c.deadline,
                    days_overdue=(today - c.deadline).days,
                )
                for c in cap_claims
                if c.deadline is not None and c.deadline < today and c.id not in supported_claim_ids
            ),
            key=lambda o: -o.days_overdue,
        )
        result = StatusAssessment(
            evidence_status=evidence_status,
            rolled_up_status=rolled,
            status=status,
            qualifier=qualifier,
            claimed_status=claimed,
            gap=LEVEL_RANK[claimed] - LEVEL_RANK[status],
            has_direct_evidence=bool(own),
            limited_by=limited_by,
            overridden=cap.status_override is not None,
            override_reason=cap.override_reason,
            overdue=overdue,
            contradicted_claims=sum(1 for c in cap_claims if c.id in contradicted_claim_ids),
        )
        results[cap.id] = result
        return result

    for cap in capabilities:
        if cap.parent_id is None or cap.parent_id not in by_id:
            visit(cap)
    for cap in capabilities:  # cycles or orphans still get assessed
        visit(cap)
    return results
