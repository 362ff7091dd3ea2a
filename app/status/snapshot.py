"""A read snapshot of the whole ledger, cached per data version across requests.

After a write, the cached snapshot is brought up to date from the data-change log: only the
hierarchies that the write touched are read again and re-assessed. The snapshot is partitioned
by capability so that a refresh costs what the write touched, not the ledger's size.
"""

import datetime as dt
import threading
from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import chain
from operator import attrgetter
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from app.capabilities.models import Capability, Outcome, StatusAssessment
from app.claims.models import Claim, Promise, PromiseState, Verdict
from app.core import as_of, lookup
from app.core.db import get_engine
from app.events.models import Event
from app.evidence.models import Evidence
from app.status import asof, hierarchy, history
from app.status.history import data_version
from app.status.rules import (
    Facts,
    Ladder,
    assess,
    assess_facts,
    assess_ledger,
    facts_of,
    load_ladder,
    overdue_of,
)
from app.status.verdicts import (
    ClaimVerdict,
    VerdictRules,
    load_rules,
    pooled_evidence,
    promise_for,
    verdict_for,
)

Row = TypeVar("Row", Claim, Evidence)
log = structlog.get_logger(__name__)
_ID = attrgetter("id")


def today() -> dt.date:
    """Return today's date (fixed by LEDGER_TODAY when set, for reproducible output)."""
    return as_of.today()


@dataclass
class Snapshot:
    """Everything a read needs, loaded once and then refreshed per data version."""

    version: int
    day: dt.date
    capabilities: list[Capability]
    events: list[Event]
    ladder: Ladder
    rules: VerdictRules
    claims_by_capability: dict[int, list[Claim]]
    evidence_by_capability: dict[int, list[Evidence]]
    assessments: dict[int, StatusAssessment]
    verdicts: dict[int, ClaimVerdict]
    claims_by_id: dict[int, Claim]
    evidence_by_claim: dict[int, list[Evidence]]
    restated_by: dict[int, list[int]]
    capability_slug: dict[int, str] = field(default_factory=dict)
    event_slug: dict[int, str] = field(default_factory=dict)
    parent_of: dict[int, int | None] = field(default_factory=dict)
    child_ids: dict[int, list[int]] = field(default_factory=dict)
    evidence_by_id: dict[int, Evidence] = field(default_factory=dict)
    # Each capability's own claims and evidence, added up: a refresh moves them by the rows
    # written and re-assesses from them (app.status.rules.Facts).
    facts: dict[int, Facts] = field(default_factory=dict)
    # The highest id of each table it holds: a row above them was written outside the log.
    top_ids: tuple[int, int, int] = (0, 0, 0)
    # Set on a view of the ledger as it stood on a past day (app.status.asof); None: today.
    as_of: dt.date | None = None

    @cached_property
    def claims(self) -> list[Claim]:
        """Every claim, by id."""
        return sorted(self.claims_by_id.values(), key=_ID)

    @cached_property
    def evidence(self) -> list[Evidence]:
        """Every evidence item, by id."""
        return sorted(chain.from_iterable(self.evidence_by_capability.values()), key=_ID)

    def children(self, capability_id: int) -> list[str]:
        """Return the slugs of a capability's direct parts, by id."""
        return [self.capability_slug[i] for i in self.child_ids.get(capability_id, [])]

    def claim_slug(self, claim_id: int | None) -> str | None:
        """Return a claim's slug, or None for no claim."""
        claim = self.claims_by_id.get(claim_id) if claim_id is not None else None
        return claim.slug if claim is not None else None

    @cached_property
    def capability_by_slug(self) -> dict[str, Capability]:
        """Every capability, by slug."""
        return {c.slug: c for c in self.capabilities}

    @cached_property
    def capability_by_id(self) -> dict[int, Capability]:
        """Every capability, by id."""
        return {c.id: c for c in self.capabilities if c.id is not None}

    def change_precision(self, effective_on: dt.date, evidence_ids: Iterable[int]) -> str:
        """Return how precisely a status change's day is known (day, month or year)."""
        items = [self.evidence_by_id[i] for i in evidence_ids if i in self.evidence_by_id]
        return history.change_precision(effective_on, items)

    def promise(self, claim: Claim) -> Promise | None:
        """Return the state of a claim's promise on the snapshot's day (None: no deadline)."""
        if claim.id is None or claim.deadline is None:
            return None
        cap = self.capability_by_id.get(claim.capability_id)
        outcome = (cap.outcome, cap.outcome_date) if cap is not None else (Outcome.active, None)
        return promise_for(claim, self.verdicts[claim.id], self.rules, outcome, self.day)

    @cached_property
    def claim_by_slug(self) -> dict[str, Claim]:
        """Every claim, by slug."""
        return {c.slug: c for c in self.claims_by_id.values()}

    def outcome_of(self, cap: Capability) -> dict[str, object]:
        """Return the outcome fields that differ on the day a view shows (empty for today)."""
        return asof.outcome_on(cap, self.as_of) if self.as_of is not None else {}

    def overdue_days(self, claim: Claim) -> int | None:
        """Return how many days an overdue promise is past its deadline, or None."""
        promise = self.promise(claim)
        if promise is None or promise.state != PromiseState.overdue:
            return None
        return promise.days_late

    def contradicted(self, claim_id: int | None) -> bool:
        """Return whether deciding evidence contradicts the claim and none supports it."""
        return claim_id is not None and self.verdicts[claim_id].code == Verdict.contradicted


_lock = threading.Lock()
_cached: Snapshot | None = None


def _partition(rows: Iterable[Row], scope: Iterable[int] = ()) -> dict[int, list[Row]]:
    parts: dict[int, list[Row]] = {cap_id: [] for cap_id in scope}
    for row in rows:
        parts.setdefault(row.capability_id, []).append(row)
    return parts


def _verdicts(
    claims: Iterable[Claim],
    evidence_by_claim: dict[int, list[Evidence]],
    claims_by_id: dict[int, Claim],
    rules: VerdictRules,
) -> dict[int, ClaimVerdict]:
    pooled = pooled_evidence(claims_by_id, evidence_by_claim)
    return {
        claim.id: verdict_for(claim, pooled.get(claim.id, []), rules, claims_by_id)
        for claim in claims
        if claim.id is not None
    }


def load(session: Session, version: int | None = None) -> Snapshot:
    """Load the snapshot from the database (uncached)."""
    # The version is read first: data newer than the label is refreshed again later, never missed.
    version = data_version(session) if version is None else version
    capabilities = list(session.exec(select(Capability).order_by(col(Capability.id))).all())
    claims = list(session.exec(select(Claim).order_by(col(Claim.id))).all())
    evidence = list(session.exec(select(Evidence).order_by(col(Evidence.id))).all())
    events = list(session.exec(select(Event).order_by(col(Event.id))).all())
    ladder = load_ladder()
    rules = load_rules()
    for rows in (capabilities, claims, evidence, events):
        for row in rows:
            session.expunge(row)
    claims_by_id = {c.id: c for c in claims if c.id is not None}
    evidence_by_claim: dict[int, list[Evidence]] = {}
    for item in evidence:
        if item.claim_id is not None:
            evidence_by_claim.setdefault(item.claim_id, []).append(item)
    restated_by: dict[int, list[int]] = {}
    for claim in claims:
        if claim.restates_id is not None and claim.id is not None:
            restated_by.setdefault(claim.restates_id, []).append(claim.id)
    verdicts = _verdicts(claims, evidence_by_claim, claims_by_id, rules)
    day = today()
    facts = facts_of(claims, evidence, ladder, verdicts)
    claims_by_capability = _partition(claims)
    overdue = {
        cap.id: overdue_of(cap, claims_by_capability.get(cap.id, []), verdicts, rules, day)
        for cap in capabilities
        if cap.id is not None
    }
    snap = Snapshot(
        version=version,
        day=day,
        capabilities=capabilities,
        events=events,
        ladder=ladder,
        rules=rules,
        claims_by_capability=claims_by_capability,
        evidence_by_capability=_partition(evidence),
        assessments=assess_facts(capabilities, facts, overdue),
        verdicts=verdicts,
        claims_by_id=claims_by_id,
        evidence_by_claim=evidence_by_claim,
        restated_by=restated_by,
        event_slug={e.id: e.slug for e in events if e.id is not None},
        top_ids=(_top(capabilities), _top(claims), _top(evidence)),
        evidence_by_id={e.id: e for e in evidence if e.id is not None},
        facts=facts,
    )
    return _index_capabilities(snap)


def _top(rows: Iterable[Any]) -> int:
    return max((row.id for row in rows if row.id is not None), default=0)


def _index_capabilities(snap: Snapshot, fresh: Iterable[Capability] | None = None) -> Snapshot:
    """Index the hierarchy: all of it, or only the fresh rows over a copy of the rest.

    Fresh rows are whole hierarchies, so every parent they name is fresh too.
    """
    if fresh is None:
        fresh = snap.capabilities
        snap.capability_slug, snap.parent_of, snap.child_ids = {}, {}, {}
    for cap in fresh:
        assert cap.id is not None
        snap.capability_slug[cap.id] = cap.slug
        snap.parent_of[cap.id] = cap.parent_id
        if cap.parent_id is not None:
            snap.child_ids.setdefault(cap.parent_id, []).append(cap.id)
    return snap


def _rows_in(session: Session, model: Any, column: Any, ids: set[int]) -> list[Any]:
    rows = [
        row
        for chunk in lookup.id_chunks(ids)
        for row in session.exec(
            select(model).where(col(column).in_(chunk)).order_by(col(model.id))
        ).all()
    ]
    for row in rows:
        session.expunge(row)
    return rows


def _members(snap: Snapshot, ids: Iterable[int]) -> set[int]:
    """Return every member of the hierarchies holding the ids given, as the snapshot has them."""
    tops = set()
    for cap_id in ids:
        seen = set()
        while cap_id in snap.parent_of and cap_id not in seen:
            seen.add(cap_id)
            parent = snap.parent_of[cap_id]
            if parent is None:
                break
            cap_id = parent
        tops.add(cap_id)
    found: set[int] = set()
    stack = [cap_id for cap_id in tops if cap_id in snap.parent_of]
    while stack:  # `found` also cuts a cycle
        cap_id = stack.pop()
        if cap_id not in found:
            found.add(cap_id)
            stack.extend(snap.child_ids.get(cap_id, []))
    return found


def refresh(session: Session, cached: Snapshot, version: int) -> Snapshot | None:
    """Bring a snapshot up to a newer version, re-deriving only what the writes changed.

    The log names the claim and evidence rows written and the hierarchies they sit in: those
    rows are read again, the verdicts of the claims they bear on are re-derived, each
    capability's facts move by the rows' differences, and the touched hierarchies are
    re-assessed from the facts. Return None when the log cannot say (it was pruned, a write
    touched everything, or it predates row logging): the caller then loads everything.
    """
    changes = history.changes_since(session, cached.version, version)
    if changes is None or any(
        change.everything or change.claim_ids is None or change.evidence_ids is None
        for change in changes
    ):
        return None
    touched = {cap_id for change in changes for cap_id in change.capability_ids}
    claim_ids = {i for change in changes for i in change.claim_ids or ()}
    evidence_ids = {i for change in changes for i in change.evidence_ids or ()}
    snap = replace(cached, version=version)
    if any(change.events for change in changes):
        snap.events = list(session.exec(select(Event).order_by(col(Event.id))).all())
        for event in snap.events:
            session.expunge(event)
        snap.event_slug = {e.id: e.slug for e in snap.events if e.id is not None}
    if not touched and not claim_ids and not evidence_ids:
        _keep_derived(snap, cached)  # same rows
        return None if _unlogged_rows(session, snap) else snap
    # Whole hierarchies, as they were and as they are: a move re-assesses both sides.
    scope = _members(cached, touched) | hierarchy.members(session, touched)
    capabilities = _rows_in(session, Capability, Capability.id, scope)
    claims = _rows_in(session, Claim, Claim.id, claim_ids)
    evidence = _rows_in(session, Evidence, Evidence.id, evidence_ids)
    _apply(snap, cached, scope, capabilities, claims, evidence, claim_ids, evidence_ids)
    return None if _unlogged_rows(session, snap) else snap


def _apply(
    snap: Snapshot,
    cached: Snapshot,
    scope: set[int],
    capabilities: list[Capability],
    claims: list[Claim],
    evidence: list[Evidence],
    claim_ids: set[int],
    evidence_ids: set[int],
) -> None:
    """Replace the rows written, their indexes, verdicts, facts and assessments in a copy.

    Only what changes is copied: the cached snapshot, which other requests may be reading,
    stays as it was.
    """
    old_claims = [cached.claims_by_id[i] for i in sorted(claim_ids) if i in cached.claims_by_id]
    old_items = [
        cached.evidence_by_id[i] for i in sorted(evidence_ids) if i in cached.evidence_by_id
    ]
    kept = [c for c in cached.capabilities if c.id not in scope]
    snap.capabilities = sorted(kept + capabilities, key=_ID)
    snap.capability_slug = {k: v for k, v in cached.capability_slug.items() if k not in scope}
    snap.parent_of = {k: v for k, v in cached.parent_of.items() if k not in scope}
    snap.child_ids = {k: v for k, v in cached.child_ids.items() if k not in scope}
    _index_capabilities(snap, capabilities)
    snap.top_ids = (
        max(cached.top_ids[0], _top(capabilities)),
        max(cached.top_ids[1], _top(claims)),
        max(cached.top_ids[2], _top(evidence)),
    )
    snap.claims_by_capability = dict(cached.claims_by_capability)
    snap.claims_by_id = dict(cached.claims_by_id)
    snap.restated_by = dict(cached.restated_by)
    for claim in old_claims:
        assert claim.id is not None
        snap.claims_by_id.pop(claim.id, None)
        _regroup(snap.claims_by_capability, claim.capability_id, drop=claim)
        _regroup(snap.restated_by, claim.restates_id, drop=claim.id)
    for claim in claims:
        assert claim.id is not None
        snap.claims_by_id[claim.id] = claim
        _regroup(snap.claims_by_capability, claim.capability_id, add=claim)
        _regroup(snap.restated_by, claim.restates_id, add=claim.id)
    snap.evidence_by_capability = dict(cached.evidence_by_capability)
    snap.evidence_by_claim = dict(cached.evidence_by_claim)
    snap.evidence_by_id = dict(cached.evidence_by_id)
    for item in old_items:
        assert item.id is not None
        snap.evidence_by_id.pop(item.id, None)
        _regroup(snap.evidence_by_capability, item.capability_id, drop=item)
        _regroup(snap.evidence_by_claim, item.claim_id, drop=item)
    for item in evidence:
        assert item.id is not None
        snap.evidence_by_id[item.id] = item
        _regroup(snap.evidence_by_capability, item.capability_id, add=item)
        _regroup(snap.evidence_by_claim, item.claim_id, add=item)

    # The claims whose verdicts can move: those written, those the items written bear on,
    # those restating a written claim at any remove (their first statement may move), and
    # every claim pooled with any of them, before and after (they share their evidence).
    linked = {e.claim_id for e in chain(old_items, evidence) if e.claim_id is not None}
    moved = _restating(cached, claim_ids) | _restating(snap, claim_ids) | linked
    moved |= _pooled(cached, moved) | _pooled(snap, moved)
    snap.verdicts = dict(cached.verdicts)
    for claim_id in moved:
        snap.verdicts.pop(claim_id, None)
        now = snap.claims_by_id.get(claim_id)
        if now is not None:
            items = [
                i for m in _pooled(snap, {claim_id}) for i in snap.evidence_by_claim.get(m, ())
            ]
            snap.verdicts[claim_id] = verdict_for(now, items, cached.rules, snap.claims_by_id)

    # Each capability's facts move by the rows' differences.
    snap.facts = dict(cached.facts)
    copied: set[int] = set()

    def facts(cap_id: int) -> Facts:
        if cap_id not in copied:
            copied.add(cap_id)
            snap.facts[cap_id] = snap.facts.get(cap_id, Facts()).copy()
        return snap.facts[cap_id]

    for item in old_items:
        facts(item.capability_id).add_evidence(item, cached.ladder, -1)
    for item in evidence:
        facts(item.capability_id).add_evidence(item, cached.ladder)
    claims_moved: set[int] = set()
    for claim_id in moved:
        old, new = cached.claims_by_id.get(claim_id), snap.claims_by_id.get(claim_id)
        if old is not None and claim_id in cached.verdicts:
            facts(old.capability_id).add_claim(old, cached.verdicts[claim_id], -1)
            claims_moved.add(old.capability_id)
        if new is not None:
            facts(new.capability_id).add_claim(new, snap.verdicts[claim_id])
            claims_moved.add(new.capability_id)

    # Re-assess the hierarchies holding a capability written or whose facts moved; overdue
    # promises are listed again where a claim or the capability's own row changed.
    was = {c.id: c.version for c in cached.capabilities}
    rewritten = {c.id for c in capabilities if c.id is not None and was.get(c.id) != c.version}
    again = _members(snap, scope | copied)
    by_id = snap.capability_by_id
    overdue = {}
    for cap_id in again:
        previous = cached.assessments.get(cap_id)
        if previous is None or cap_id in claims_moved or cap_id in rewritten:
            claims_of = snap.claims_by_capability.get(cap_id, [])
            overdue[cap_id] = overdue_of(
                by_id[cap_id], claims_of, snap.verdicts, cached.rules, cached.day
            )
        else:
            overdue[cap_id] = previous.overdue
    fresh = assess_facts([by_id[i] for i in sorted(again)], snap.facts, overdue)
    snap.assessments = {
        cap_id: assessment
        for cap_id, assessment in cached.assessments.items()
        if cap_id not in again
    } | fresh


def _restating(snap: Snapshot, claim_ids: Iterable[int]) -> set[int]:
    """Return the claims given and every claim restating one of them, at any remove."""
    found, stack = set(claim_ids), list(claim_ids)
    while stack:  # `found` also cuts a cycle
        for restating in snap.restated_by.get(stack.pop(), []):
            if restating not in found:
                found.add(restating)
                stack.append(restating)
    return found


def _same_claim(claim: Claim, first: Claim | None) -> bool:
    """Return whether a restatement is the same claim again (app.status.verdicts.pooled_evidence)."""
    return (
        first is not None
        and first.capability_id == claim.capability_id
        and first.deadline == claim.deadline
    )


def _pooled(snap: Snapshot, claim_ids: Iterable[int]) -> set[int]:
    """Return the claims given and every claim pooled with one of them, as the snapshot has them."""
    found = {i for i in claim_ids if i in snap.claims_by_id}
    stack = list(found)
    while stack:
        claim = snap.claims_by_id[stack.pop()]
        linked = []
        if claim.restates_id is not None:
            first = snap.claims_by_id.get(claim.restates_id)
            if _same_claim(claim, first):
                linked.append(claim.restates_id)
        for restating in snap.restated_by.get(claim.id or 0, []):
            if _same_claim(snap.claims_by_id[restating], claim):
                linked.append(restating)
        for other in linked:
            if other not in found:
                found.add(other)
                stack.append(other)
    return found


K = TypeVar("K")


def _order(member: object) -> int:
    return member if isinstance(member, int) else int(getattr(member, "id", 0) or 0)


def _regroup(
    groups: dict[int, list[K]], key: int | None, *, drop: K | None = None, add: K | None = None
) -> None:
    """Drop or add one member of a group, copying that group's list (never mutating it)."""
    if key is None:
        return
    # Ids compare by value, rows by identity (the cached rows are the very objects grouped).
    members = [
        m for m in groups.get(key, []) if (m != drop if isinstance(m, int) else m is not drop)
    ]
    if add is not None:  # in id order, as a full load groups them
        insort(members, add, key=_order)
    if members:
        groups[key] = members
    else:
        groups.pop(key, None)


def _unlogged_rows(session: Session, snap: Snapshot) -> bool:
    """Return whether a row was added that the data-change log does not account for.

    A write that commits meanwhile moves the version too: then the next refresh checks again.
    """
    tops = session.exec(
        select(
            select(func.max(Capability.id)).scalar_subquery(),
            select(func.max(Claim.id)).scalar_subquery(),
            select(func.max(Evidence.id)).scalar_subquery(),
        )
    ).one()
    found = tuple(top or 0 for top in tops)
    return found != snap.top_ids and data_version(session) == snap.version


def get(session: Session) -> Snapshot:
    """Return the snapshot this read shows: today's, or the ledger as of the day it asks for."""
    snap = current(session)
    day = as_of.current()
    if day is None or day >= snap.day:
        return snap
    return view(session, snap, day)


def current(session: Session) -> Snapshot:
    """Return the snapshot for the current data version and day, refreshing the cached one."""
    global _cached
    version, day = data_version(session), today()
    seen = _cached
    if seen is not None and seen.version == version and seen.day == day:
        return seen
    with _lock:
        cached = _cached
        if (
            cached is not None
            and cached.day == day
            and (cached.version == version or (cached is not seen and cached.version > version))
        ):
            # Another request refreshed it while this one waited, to this version or past it
            # (a write landed meanwhile): newer than asked is still current enough. Without a
            # refresh meanwhile, a newer label means the database went back: load it again.
            return cached
        snap = None
        if cached is not None and cached.version == version:
            snap = cached
        elif cached is not None and cached.version < version:
            snap = refresh(session, cached, version)
        if snap is not None and snap.day != day:
            snap = for_day(snap, day)
        if snap is None:
            snap = load(session, version)
        _cached = snap
        return snap


def for_day(cached: Snapshot, day: dt.date) -> Snapshot:
    """Re-assess the cached rows for another day, without reading them again.

    Rows change only with the data version; a new day only moves deadlines past, which the
    assessment reads (verdicts do not depend on the day).
    """
    snap = replace(cached, day=day)
    _keep_derived(snap, cached)
    snap.assessments = assess(
        snap.capabilities, snap.claims, snap.evidence, snap.ladder, snap.verdicts, snap.rules, day
    )
    return snap


def _keep_derived(snap: Snapshot, cached: Snapshot) -> None:
    """Reuse the lists and index that the cached snapshot derived from the same rows."""
    for name in ("claims", "evidence", "capability_by_slug", "claim_by_slug"):
        if name in cached.__dict__:
            snap.__dict__[name] = cached.__dict__[name]


def warm() -> None:
    """Build this process's snapshot (and the featured as-of views) before a request needs it.

    A database error only warns.
    """
    try:
        with Session(get_engine()) as session:
            snap = current(session)
            # And the ledger as of the featured events, which readers step back to first.
            for preset in asof.presets(snap.events, snap.day)[: len(asof.FEATURED)]:
                view(session, snap, preset.day)
    except SQLAlchemyError as exc:
        log.warning("snapshot.not_warmed", error=type(exc).__name__)


def invalidate() -> None:
    """Drop the process-local snapshot (tests switch databases)."""
    global _cached
    _cached = None
    _views.clear()


# Views of the ledger as of past days, per (data version, today, day): at most this many kept.
VIEWS_KEPT = 64
_views: dict[tuple[int, dt.date, dt.date], Snapshot] = {}
_views_lock = threading.Lock()


def view(session: Session, base: Snapshot, day: dt.date, *, cache: bool = True) -> Snapshot:
    """Return the ledger as it stood on a past day, computed from today's rows and history.

    Claims made and evidence surely published by then, capability outcomes and manual
    overrides as they stood then, and the verdicts and statuses the same engine computes from
    them. Cached per (data version, today, day); a write moves the version and so the key.
    """
    if day >= base.day:
        return base
    key = (base.version, base.day, day)
    with _views_lock:
        hit = _views.get(key) if cache else None
    if hit is not None:
        return hit
    claims = asof.claims_known(base.claims, day)
    evidence = asof.evidence_known_by(base.evidence, day)
    overrides = asof.overrides_on(session, day)
    every = [asof.capability_on(cap, overrides.get(cap.id or 0)) for cap in base.capabilities]
    assessments, verdicts = assess_ledger(every, claims, evidence, base.ladder, base.rules, day)
    shown = asof.shown_ids(base.parent_of, claims, evidence)
    claims_by_id = {c.id: c for c in claims if c.id is not None}
    evidence_by_claim: dict[int, list[Evidence]] = {}
    for item in evidence:
        if item.claim_id in claims_by_id:
            evidence_by_claim.setdefault(item.claim_id, []).append(item)
    restated_by: dict[int, list[int]] = {}
    for claim in claims:
        if claim.restates_id in claims_by_id and claim.id is not None:
            restated_by.setdefault(claim.restates_id, []).append(claim.id)
    found = replace(
        base,
        day=day,
        as_of=day,
        capabilities=[cap for cap in every if cap.id in shown],
        claims_by_capability=_partition(claims, base.capability_slug),
        evidence_by_capability=_partition(evidence, base.capability_slug),
        assessments=assessments,
        verdicts=verdicts,
        claims_by_id=claims_by_id,
        evidence_by_claim=evidence_by_claim,
        restated_by=restated_by,
        evidence_by_id={e.id: e for e in evidence if e.id is not None},
        facts={},  # a view is never refreshed
        child_ids={
            parent: [c for c in children if c in shown]
            for parent, children in base.child_ids.items()
        },
    )
    if not cache:
        return found
    with _views_lock:
        while len(_views) >= VIEWS_KEPT:
            _views.pop(next(iter(_views)))
        _views[key] = found
    return found
