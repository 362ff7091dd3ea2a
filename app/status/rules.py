"""Assess capabilities: the level their evidence supports, rolled up and down the hierarchy.

A capability's level is the lower of two levels: the best level that evidence about it, or about
any assembly containing it through critical links, meets; and its weakest critical part's level.
With no evidence about itself or anything containing it, it is not assessed.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import yaml

from app.capabilities.models import Capability, OverdueClaim, StatusAssessment
from app.claims.models import Claim, PromiseState, Verdict
from app.core.config import seed_folder
from app.core.schema import LEVEL_RANK, DatePrecision, Level, period_end
from app.events.models import Event
from app.evidence.models import Evidence, EvidenceKind, Origin, Stance
from app.ladder.models import StatusLevel
from app.status.verdicts import ClaimVerdict, VerdictRules, claim_verdicts, promise_for

# Analytical evidence can contradict a figure but never moves a capability up the ladder.
ANALYTICAL_KINDS = {EvidenceKind.simulation_run, EvidenceKind.analytical_check}
CLAIM_GRADES_THAT_COUNT = {"P", "S"}
K = TypeVar("K")


@dataclass(frozen=True)
class Ladder:
    """The exit criteria and label of each level, as read from status_levels.yaml."""

    accepted_kinds: dict[str, frozenset[str]]
    accepted_grades: dict[str, frozenset[str]]
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, levels: Iterable[StatusLevel]) -> "Ladder":
        """Build the rules from StatusLevel rows; a code outside `Level` raises ValueError."""
        rows = list(levels)
        return cls(
            accepted_kinds={r.code: frozenset(r.accepted_evidence_kinds) for r in rows},
            accepted_grades={r.code: frozenset(r.accepted_grades) for r in rows},
            labels={Level(r.code): r.label for r in sorted(rows, key=lambda r: r.rank)},
        )

    def counts(self, evidence: Evidence) -> bool:
        """Return whether one evidence item meets the exit criteria of the level it supports."""
        return self.meets(evidence.stance, evidence.level, evidence.origin, evidence.kind,
                          evidence.grade)  # fmt: skip

    def meets(self, stance: str, level: str | None, origin: str, kind: str, grade: str) -> bool:
        """Return whether an item with these fields meets the exit criteria of its level."""
        if stance != Stance.supports or not level:
            return False
        if origin == Origin.computed or kind in ANALYTICAL_KINDS:
            return False
        return kind in self.accepted_kinds.get(level, frozenset()) and grade in (
            self.accepted_grades.get(level, frozenset())
        )


def load_levels() -> tuple[StatusLevel, ...]:
    """Return the ladder's levels, lowest first, from the seed folder (LEDGER_SEED_DIR).

    The one source of the ladder: the engine, the casebook, the pages and the API read it here.
    The `status_level` table is the seed's copy of it, kept for exports.
    """
    return _levels_in(seed_folder())


@lru_cache
def _levels_in(folder: Path) -> tuple[StatusLevel, ...]:
    rows = yaml.safe_load((folder / "status_levels.yaml").read_text(encoding="utf-8"))
    return tuple(sorted((StatusLevel.model_validate(row) for row in rows), key=lambda r: r.rank))


def load_ladder() -> Ladder:
    """Return the ladder's exit criteria and labels (`load_levels`)."""
    return _ladder_in(seed_folder())


@lru_cache
def _ladder_in(folder: Path) -> Ladder:
    return Ladder.from_rows(_levels_in(folder))


def _move(counter: Counter[K], key: K, sign: int) -> None:
    counter[key] += sign
    if counter[key] == 0:
        del counter[key]  # absent, as a count from scratch has it


@dataclass
class Facts:
    """What one capability's own claims and evidence add up to, as far as its assessment reads.

    Kept per capability and moved by a write's rows (app/status/snapshot.py), so re-assessing
    a capability never reads its claims and evidence again.
    """

    # (level, origin) of each item that meets the ladder's exit criteria, with their count
    counting: Counter[tuple[str, str]] = field(default_factory=Counter)
    claimed: Counter[str] = field(default_factory=Counter)  # implied status, claims graded P/S
    verdicts: Counter[str] = field(default_factory=Counter)  # its claims' verdict codes

    def copy(self) -> "Facts":
        """Return a copy to move (the kept one may be read meanwhile)."""
        return Facts(Counter(self.counting), Counter(self.claimed), Counter(self.verdicts))

    def level(self) -> Level:
        """Return the best level its own evidence meets."""
        return _max_level(level for level, _ in self.counting)

    def add_evidence(self, item: Evidence, ladder: Ladder, sign: int = 1) -> None:
        """Count an item in (sign 1) or out (sign -1)."""
        if ladder.counts(item) and item.level:
            _move(self.counting, (item.level, item.origin), sign)

    def add_claim(self, claim: Claim, verdict: ClaimVerdict, sign: int = 1) -> None:
        """Count a claim, with its verdict, in (sign 1) or out (sign -1)."""
        if claim.grade in CLAIM_GRADES_THAT_COUNT:
            _move(self.claimed, claim.implied_status, sign)
        _move(self.verdicts, verdict.code, sign)


def facts_of(
    claims: Iterable[Claim],
    evidence: Iterable[Evidence],
    ladder: Ladder,
    verdicts: Mapping[int, ClaimVerdict],
) -> dict[int, Facts]:
    """Add up each capability's facts from its rows."""
    facts: dict[int, Facts] = {}
    for item in evidence:
        facts.setdefault(item.capability_id, Facts()).add_evidence(item, ladder)
    for claim in claims:
        if claim.id is not None:
            facts.setdefault(claim.capability_id, Facts()).add_claim(claim, verdicts[claim.id])
    return facts


def _max_level(levels: Iterable[str]) -> Level:
    best = Level.not_assessed
    for code in levels:
        level = Level(code)
        if LEVEL_RANK[level] > LEVEL_RANK[best]:
            best = level
    return best


def _lower(a: Level, b: Level) -> Level:
    return a if LEVEL_RANK[a] <= LEVEL_RANK[b] else b


@dataclass(frozen=True)
class Hierarchy:
    """Parents and critical parts, for walking up and down."""

    by_id: dict[int, Capability]
    critical_parts: dict[int, list[Capability]]

    @classmethod
    def of(cls, capabilities: Sequence[Capability]) -> "Hierarchy":
        """Index the capabilities given."""
        by_id = {c.id: c for c in capabilities if c.id is not None}
        parts: dict[int, list[Capability]] = {cid: [] for cid in by_id}
        for cap in capabilities:
            if cap.parent_id in parts and cap.critical:
                parts[cap.parent_id].append(cap)
        return cls(by_id, parts)

    def containing(self, cap: Capability) -> list[Capability]:
        """Return the assemblies whose evidence counts for this one: up its critical links."""
        found: list[Capability] = []
        cursor, seen = cap, {cap.id}
        while cursor.critical and cursor.parent_id in self.by_id and cursor.parent_id not in seen:
            cursor = self.by_id[cursor.parent_id]
            seen.add(cursor.id)
            found.append(cursor)
        return found

    def related(self, cap: Capability) -> set[int]:
        """Return the ids whose evidence can move this capability's level (it included)."""
        ids = {c.id for c in self.containing(cap) if c.id is not None}
        stack, seen = [cap], set[int]()
        while stack:
            node = stack.pop()
            if node.id is None or node.id in seen:
                continue
            seen.add(node.id)
            stack.extend(self.critical_parts.get(node.id, []))
        return ids | seen


def assess(
    capabilities: Sequence[Capability],
    claims: Sequence[Claim],
    evidence: Sequence[Evidence],
    ladder: Ladder,
    verdicts: Mapping[int, ClaimVerdict],
    rules: VerdictRules,
    today: dt.date,
) -> dict[int, StatusAssessment]:
    """Assess every capability from the evidence, claims, verdicts and hierarchy given."""
    claims_by_cap: dict[int, list[Claim]] = {}
    for claim in claims:
        claims_by_cap.setdefault(claim.capability_id, []).append(claim)
    overdue = {
        cap.id: overdue_of(cap, claims_by_cap.get(cap.id, []), verdicts, rules, today)
        for cap in capabilities
        if cap.id is not None
    }
    return assess_facts(capabilities, facts_of(claims, evidence, ladder, verdicts), overdue)


def assess_facts(
    capabilities: Sequence[Capability],
    facts: Mapping[int, Facts],
    overdue: Mapping[int, list[OverdueClaim]],
) -> dict[int, StatusAssessment]:
    """Assess every capability given from its kept facts, its overdue promises and the hierarchy.

    The cost follows the number of capabilities, not of their claims and evidence.
    """
    tree = Hierarchy.of(capabilities)
    none = Facts()
    own_level = {cid: facts.get(cid, none).level() for cid in tree.by_id}
    results: dict[int, StatusAssessment] = {}
    visiting: set[int] = set()

    def visit(cap: Capability) -> StatusAssessment:
        assert cap.id is not None
        if cap.id in results:
            return results[cap.id]
        visiting.add(cap.id)
        own = facts.get(cap.id, none)
        evidence_status = own_level[cap.id]
        inherited, inherited_from = Level.not_assessed, None
        for assembly in tree.containing(cap):
            level = own_level[assembly.id]  # type: ignore[index]
            if LEVEL_RANK[level] > LEVEL_RANK[inherited]:
                inherited, inherited_from = level, assembly.slug
        known = _max_level([evidence_status, inherited])
        parts = [
            (part, visit(part)) for part in tree.critical_parts[cap.id] if part.id not in visiting
        ]
        parts_status, limited_by = None, None
        rolled = known
        if parts:
            weakest_part, weakest = min(parts, key=lambda pr: LEVEL_RANK[pr[1].status])
            parts_status = weakest.status
            if known == Level.not_assessed:
                # No evidence for the assembly itself: its parts' progress is not its own.
                limited_by = weakest_part.slug if parts_status != Level.not_assessed else None
            elif LEVEL_RANK[parts_status] < LEVEL_RANK[known]:
                rolled, limited_by = _lower(known, parts_status), weakest_part.slug
        qualifier = None
        if rolled == Level.benchmarked and evidence_status == Level.benchmarked:
            independent = own.counting[(Level.benchmarked, Origin.independent)] > 0
            qualifier = "independent" if independent else "vendor-reported"
        status = Level(cap.status_override) if cap.status_override else rolled
        claimed = _max_level(own.claimed)
        result = StatusAssessment(
            evidence_status=evidence_status,
            inherited_status=inherited,
            inherited_from=inherited_from if LEVEL_RANK[inherited] > 0 else None,
            parts_status=parts_status,
            rolled_up_status=rolled,
            status=status,
            qualifier=qualifier,
            claimed_status=claimed,
            gap=LEVEL_RANK[claimed] - LEVEL_RANK[status],
            has_direct_evidence=bool(own.counting),
            limited_by=limited_by,
            overridden=cap.status_override is not None,
            override_reason=cap.override_reason,
            overdue=overdue.get(cap.id, []),
            contradicted_claims=own.verdicts[Verdict.contradicted],
            disputed_claims=own.verdicts[Verdict.disputed],
        )
        results[cap.id] = result
        visiting.discard(cap.id)
        return result

    for cap in tree.by_id.values():
        visit(cap)
    return results


def overdue_of(
    cap: Capability,
    claims: Iterable[Claim],
    verdicts: Mapping[int, ClaimVerdict],
    rules: VerdictRules,
    today: dt.date,
) -> list[OverdueClaim]:
    """Return a capability's overdue promises, most overdue first."""
    outcome = (cap.outcome, cap.outcome_date)
    promises = [
        (c, promise_for(c, verdicts[c.id], rules, outcome, today))
        for c in claims
        if c.deadline is not None and c.id is not None
    ]
    return sorted(
        (
            OverdueClaim(
                slug=c.slug, text=c.text, deadline=p.deadline, days_overdue=p.days_late or 0
            )
            for c, p in promises
            if p is not None and p.state == PromiseState.overdue
        ),
        key=lambda o: -o.days_overdue,
    )


def assess_ledger(
    capabilities: Sequence[Capability],
    claims: Sequence[Claim],
    evidence: Sequence[Evidence],
    ladder: Ladder,
    rules: VerdictRules,
    today: dt.date,
) -> tuple[dict[int, StatusAssessment], dict[int, ClaimVerdict]]:
    """Return every capability's assessment and every claim's verdict."""
    verdicts = claim_verdicts(claims, evidence, rules)
    return assess(capabilities, claims, evidence, ladder, verdicts, rules, today), verdicts


def effective_date(
    item: Evidence,
    claims_by_id: Mapping[int, Claim],
    events_by_id: Mapping[int, Event],
    capability_events: Mapping[int, list[dt.date]],
) -> dt.date:
    """Return the first day an item can have moved a status.

    An item known only to the month or year takes effect no earlier than the event it concerns:
    its claim's event, or else an event about its capability inside the item's period.
    """
    if item.date_precision in (DatePrecision.day, DatePrecision.none):
        return item.date  # an undated item takes effect where it is placed
    end = period_end(item.date, item.date_precision)
    claim = claims_by_id.get(item.claim_id) if item.claim_id is not None else None
    event = events_by_id.get(claim.event_id) if claim is not None else None
    if event is not None and item.date <= event.date <= end:
        return event.date
    inside = [d for d in capability_events.get(item.capability_id, []) if item.date <= d <= end]
    return min(inside) if inside else item.date


@dataclass(frozen=True)
class Change:
    """One status change found by a replay: when, which capability, and the items that caused it."""

    day: dt.date
    capability_id: int
    before: StatusAssessment | None
    after: StatusAssessment
    causes: tuple[Evidence, ...]


def replay(
    capabilities: Sequence[Capability],
    claims: Sequence[Claim],
    events: Sequence[Event],
    evidence: Sequence[Evidence],
    ladder: Ladder,
    rules: VerdictRules,
    today: dt.date,
) -> list[Change]:
    """Replay the evidence in the order it could have been known; return each status change.

    A change lists only the items of that day that can move that capability and, of those, the
    ones at the level it reached when there are any.
    """
    claims_by_id = {c.id: c for c in claims if c.id is not None}
    events_by_id = {e.id: e for e in events if e.id is not None}
    cap_events: dict[int, list[dt.date]] = {}
    for claim in claims:
        if claim.event_id in events_by_id:
            cap_events.setdefault(claim.capability_id, []).append(events_by_id[claim.event_id].date)
    effective = {id(e): effective_date(e, claims_by_id, events_by_id, cap_events) for e in evidence}
    tree = Hierarchy.of(capabilities)
    related = {cid: tree.related(cap) for cid, cap in tree.by_id.items()}
    before, _ = assess_ledger(capabilities, claims, [], ladder, rules, today)
    changes: list[Change] = []
    for day in sorted(set(effective.values())):
        known = [e for e in evidence if effective[id(e)] <= day]
        after, _ = assess_ledger(capabilities, claims, known, ladder, rules, today)
        todays = [e for e in known if effective[id(e)] == day and ladder.counts(e)]
        for cap_id, now in after.items():
            previous = before.get(cap_id)
            if previous is not None and previous.status == now.status:
                continue
            if previous is None and now.status == Level.not_assessed:
                continue
            causes = [e for e in todays if e.capability_id in related.get(cap_id, set())]
            reached = [e for e in causes if e.level == now.status]
            changes.append(Change(day, cap_id, previous, now, tuple(reached or causes)))
        before = after
    return changes
