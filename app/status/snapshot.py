"""A read snapshot of the whole ledger, cached per data version across requests.

After a write, the cached snapshot is brought up to date from the data-change log: only the
hierarchies that the write touched are read again and re-assessed. The snapshot is partitioned
by capability so that a refresh costs what the write touched, not the ledger's size.
"""

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import chain
from operator import attrgetter
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from app.capabilities.models import Capability, StatusAssessment
from app.claims.models import Claim, Promise, PromiseState, Verdict
from app.core import as_of, lookup
from app.core.db import get_engine
from app.events.models import Event
from app.evidence.models import Evidence
from app.ladder.models import StatusLevel
from app.status import asof, hierarchy, history
from app.status.history import data_version
from app.status.rules import Ladder, assess, assess_ledger
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

    @cached_property
    def evidence_by_id(self) -> dict[int, Evidence]:
        """Every evidence item, by id."""
        return {e.id: e for e in self.evidence if e.id is not None}

    def change_precision(self, effective_on: dt.date, evidence_ids: Iterable[int]) -> str:
        """Return how precisely a status change's day is known (day, month or year)."""
        items = [self.evidence_by_id[i] for i in evidence_ids if i in self.evidence_by_id]
        return history.change_precision(effective_on, items)

    def promise(self, claim: Claim) -> Promise | None:
        """Return the state of a claim's promise on the snapshot's day (None: no deadline)."""
        if claim.id is None or claim.deadline is None:
            return None
        cap = self.capability_by_id.get(claim.capability_id)
        outcome = (cap.outcome, cap.outcome_date) if cap is not None else ("active", None)
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


def load_ladder(session: Session) -> Ladder:
    """Load the ladder's exit criteria."""
    return Ladder.from_rows(session.exec(select(StatusLevel)).all())


_lock = threading.Lock()
_cached: Snapshot | None = None

# Refresh in place while the touched hierarchies stay under this share of the ledger; beyond
# it, one full load is cheaper than scoped queries.
REFRESH_SHARE = 0.5


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
    ladder = load_ladder(session)
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
    snap = Snapshot(
        version=version,
        day=day,
        capabilities=capabilities,
        events=events,
        ladder=ladder,
        rules=rules,
        claims_by_capability=_partition(claims),
        evidence_by_capability=_partition(evidence),
        assessments=assess(capabilities, claims, evidence, ladder, verdicts, rules, day),
        verdicts=verdicts,
        claims_by_id=claims_by_id,
        evidence_by_claim=evidence_by_claim,
        restated_by=restated_by,
        event_slug={e.id: e.slug for e in events if e.id is not None},
        top_ids=(_top(capabilities), _top(claims), _top(evidence)),
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
    """Bring a snapshot up to a newer version, re-assessing only what the writes touched.

    Return None when the log cannot say (it was pruned, or a write touched everything), or
    when the touched part is large: the caller then loads everything.
    """
    changes = history.changes_since(session, cached.version, version)
    if changes is None or any(change.everything for change in changes):
        return None
    touched = {cap_id for change in changes for cap_id in change.capability_ids}
    snap = replace(cached, version=version)
    if any(change.events for change in changes):
        snap.events = list(session.exec(select(Event).order_by(col(Event.id))).all())
        for event in snap.events:
            session.expunge(event)
        snap.event_slug = {e.id: e.slug for e in snap.events if e.id is not None}
    if not touched:
        _keep_derived(snap, cached)  # same rows
        return None if _unlogged_rows(session, snap) else snap

    def whole(ids: set[int]) -> set[int]:
        # Whole hierarchies, as they were and as they are: a move re-assesses both sides.
        return _members(cached, ids) | hierarchy.members(session, ids)

    scope = whole(touched)
    for _ in range(3):
        if len(scope) > REFRESH_SHARE * max(len(cached.capabilities), 1):
            return None
        capabilities = _rows_in(session, Capability, Capability.id, scope)
        claims = _rows_in(session, Claim, Claim.capability_id, scope)
        evidence = _rows_in(session, Evidence, Evidence.capability_id, scope)
        extra = _verdict_dependents(cached, scope, claims, evidence)
        if extra <= scope:
            break
        scope |= whole(extra)
    else:
        return None
    _apply(snap, cached, scope, capabilities, claims, evidence)
    return None if _unlogged_rows(session, snap) else snap


def _apply(
    snap: Snapshot,
    cached: Snapshot,
    scope: set[int],
    capabilities: list[Capability],
    claims: list[Claim],
    evidence: list[Evidence],
) -> None:
    """Replace the scope's rows, indexes, verdicts and assessments in a copied snapshot.

    Only what changes is copied: the cached snapshot, which other requests may be reading,
    stays as it was.
    """
    old_claims = [c for cap_id in scope for c in cached.claims_by_capability.get(cap_id, [])]
    old_evidence = [e for cap_id in scope for e in cached.evidence_by_capability.get(cap_id, [])]
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
    snap.claims_by_capability = {**cached.claims_by_capability, **_partition(claims, scope)}
    snap.evidence_by_capability = {
        **cached.evidence_by_capability,
        **_partition(evidence, scope),
    }
    snap.claims_by_id = dict(cached.claims_by_id)
    snap.verdicts = dict(cached.verdicts)
    snap.restated_by = dict(cached.restated_by)
    for claim in old_claims:
        assert claim.id is not None
        for index in (snap.claims_by_id, snap.verdicts):
            index.pop(claim.id, None)
        _regroup(snap.restated_by, claim.restates_id, drop=claim.id)
    for claim in claims:
        assert claim.id is not None
        snap.claims_by_id[claim.id] = claim
        _regroup(snap.restated_by, claim.restates_id, add=claim.id)
    snap.evidence_by_claim = dict(cached.evidence_by_claim)
    for item in old_evidence:
        _regroup(snap.evidence_by_claim, item.claim_id, drop=item)
    for item in evidence:
        _regroup(snap.evidence_by_claim, item.claim_id, add=item)
    snap.verdicts.update(_verdicts(claims, snap.evidence_by_claim, snap.claims_by_id, cached.rules))
    fresh = assess(
        capabilities, claims, evidence, cached.ladder, snap.verdicts, cached.rules, cached.day
    )
    snap.assessments = {
        cap_id: assessment
        for cap_id, assessment in cached.assessments.items()
        if cap_id not in scope
    } | fresh


K = TypeVar("K")


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
    if add is not None:
        members.append(add)
    if members:
        groups[key] = members
    else:
        groups.pop(key, None)


def _verdict_dependents(
    cached: Snapshot, scope: set[int], claims: list[Claim], evidence: list[Evidence]
) -> set[int]:
    """Return the capabilities outside the scope whose claims' verdicts the write can move.

    A claim's verdict reads the evidence linked to it, which may be filed under another
    capability, and the dates of the claims it restates, which may belong to others too.
    """
    old_evidence = chain.from_iterable(cached.evidence_by_capability.get(c, []) for c in scope)
    old_claims = chain.from_iterable(cached.claims_by_capability.get(c, []) for c in scope)
    linked = {e.claim_id for e in chain(evidence, old_evidence) if e.claim_id is not None}
    capability_of = {c.id: c.capability_id for c in claims if c.id is not None}
    # Claims restating a scoped claim, at any remove (cycles are cut by `seen`).
    stack = [c.id for c in chain(claims, old_claims) if c.id is not None]
    seen: set[int] = set()
    while stack:
        claim_id = stack.pop()
        for restating in cached.restated_by.get(claim_id, []):
            if restating not in seen:
                seen.add(restating)
                stack.append(restating)
    found = set()
    for claim_id in linked | seen:
        if claim_id in capability_of:
            found.add(capability_of[claim_id])
        elif claim_id in cached.claims_by_id:
            found.add(cached.claims_by_id[claim_id].capability_id)
    return found - scope


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
