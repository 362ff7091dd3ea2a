"""A read snapshot of the whole ledger, cached per data version across requests."""

import datetime as dt
import threading
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from app.capabilities.models import Capability, StatusAssessment
from app.claims.models import Claim
from app.core.config import get_settings
from app.events.models import Event
from app.evidence.models import Evidence
from app.ladder.models import StatusLevel
from app.status.history import data_version
from app.status.rules import Ladder, assess_ledger
from app.status.verdicts import ClaimVerdict, VerdictRules, load_rules


def today() -> dt.date:
    """Return today's date (fixed by LEDGER_TODAY when set, for reproducible output)."""
    fixed = get_settings().today
    return dt.date.fromisoformat(fixed) if fixed else dt.date.today()


@dataclass
class Snapshot:
    """Everything a read needs, loaded once per data version."""

    version: int
    day: dt.date
    capabilities: list[Capability]
    claims: list[Claim]
    evidence: list[Evidence]
    events: list[Event]
    ladder: Ladder
    rules: VerdictRules
    assessments: dict[int, StatusAssessment]
    verdicts: dict[int, ClaimVerdict]
    capability_slug: dict[int, str] = field(default_factory=dict)
    event_slug: dict[int, str] = field(default_factory=dict)
    claim_slug: dict[int, str] = field(default_factory=dict)
    children: dict[int, list[str]] = field(default_factory=dict)

    def overdue_days(self, claim: Claim) -> int | None:
        """Return how many days a claim's deadline has passed unmet, or None."""
        if claim.id is None or claim.deadline is None or claim.deadline >= self.day:
            return None
        if self.verdicts[claim.id].code in self.rules.meets_deadline:
            return None
        return (self.day - claim.deadline).days

    def contradicted(self, claim_id: int | None) -> bool:
        """Return whether deciding evidence contradicts the claim (alone or disputed)."""
        return claim_id is not None and self.verdicts[claim_id].code in (
            "contradicted",
            "disputed",
        )


def load_ladder(session: Session) -> Ladder:
    """Load the ladder's exit criteria."""
    return Ladder.from_rows(session.exec(select(StatusLevel)).all())


_lock = threading.Lock()
_cached: Snapshot | None = None


def load(session: Session) -> Snapshot:
    """Load the snapshot from the database (uncached)."""
    capabilities = list(session.exec(select(Capability).order_by(col(Capability.id))).all())
    claims = list(session.exec(select(Claim).order_by(col(Claim.id))).all())
    evidence = list(session.exec(select(Evidence).order_by(col(Evidence.id))).all())
    events = list(session.exec(select(Event).order_by(col(Event.id))).all())
    ladder = load_ladder(session)
    rules = load_rules()
    assessments, verdicts = assess_ledger(capabilities, claims, evidence, ladder, rules, today())
    snap = Snapshot(
        version=data_version(session),
        day=today(),
        capabilities=capabilities,
        claims=claims,
        evidence=evidence,
        events=events,
        ladder=ladder,
        rules=rules,
        assessments=assessments,
        verdicts=verdicts,
    )
    snap.capability_slug = {c.id: c.slug for c in capabilities if c.id is not None}
    snap.event_slug = {e.id: e.slug for e in events if e.id is not None}
    snap.claim_slug = {c.id: c.slug for c in claims if c.id is not None}
    for cap in capabilities:
        if cap.parent_id is not None:
            snap.children.setdefault(cap.parent_id, []).append(cap.slug)
    for rows in (capabilities, claims, evidence, events):
        for row in rows:
            session.expunge(row)
    return snap


def get(session: Session) -> Snapshot:
    """Return the snapshot for the current data version, reusing the cached one if fresh."""
    global _cached
    version = data_version(session)
    cached = _cached
    if cached is not None and cached.version == version and cached.day == today():
        return cached
    with _lock:
        snap = load(session)
        _cached = snap
        return snap


def invalidate() -> None:
    """Drop the process-local snapshot (tests switch databases)."""
    global _cached
    _cached = None
