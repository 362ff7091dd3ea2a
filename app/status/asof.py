"""The rows of the ledger as they stood on a past day (see `app.core.as_of` for the rule).

Computed from today's rows and the status history, never from stored snapshots: a claim counts
once it was surely made, an evidence item once it was surely published, a capability's outcome
once its date has come, and a manual override as the history recorded it on that day.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.capabilities.models import Capability, Outcome
from app.claims.models import Claim
from app.core.as_of import precision_cutoffs, surely_by
from app.core.schema import period_end
from app.events.models import Event
from app.evidence.models import Evidence
from app.history.models import OVERRIDE_REASONS, ReasonCode, StatusChange

# (status, reason) of the override in force, or None when none was.
Override = tuple[str, str] | None


def claim_known(claim: Claim, day: dt.date) -> bool:
    """Return whether a claim was surely made by the day."""
    return surely_by(claim.stated_on, claim.date_precision, day)


def evidence_known(item: Evidence, day: dt.date) -> bool:
    """Return whether an evidence item was surely published by the day."""
    return surely_by(item.date, item.date_precision, day)


def claims_known(claims: Iterable[Claim], day: dt.date) -> list[Claim]:
    """Return the claims surely made by the day, in their order (`claim_known` for many).

    A date not given (precision "none") is surely by no day.
    """
    cut = precision_cutoffs(day)
    return [c for c in claims if (first := cut.get(c.date_precision)) and c.stated_on < first]


def evidence_known_by(items: Iterable[Evidence], day: dt.date) -> list[Evidence]:
    """Return the items surely published by the day, in their order (`evidence_known` for many)."""
    cut = precision_cutoffs(day)
    return [e for e in items if (first := cut.get(e.date_precision)) and e.date < first]


def overrides_on(session: Session, day: dt.date) -> dict[int, Override]:
    """Return each capability's manual override as the history recorded it on the day.

    The last override or clearing effective by then decides; a capability absent from the
    result had none recorded by then.
    """
    rows = session.exec(
        select(StatusChange)
        .where(
            col(StatusChange.reason_code).in_(OVERRIDE_REASONS),
            col(StatusChange.effective_on) <= day,
        )
        .order_by(col(StatusChange.effective_on), col(StatusChange.id))
    ).all()
    found: dict[int, Override] = {}
    for row in rows:
        found[row.capability_id] = (
            (row.to_status, row.reason) if row.reason_code == ReasonCode.override else None
        )
    return found


def capability_on(cap: Capability, override: Override) -> Capability:
    """Return the capability with the manual override in force then (the row is never changed).

    Only a capability whose override differs is copied: a shallow copy of the detached,
    read-only row, never added to a session (a new table model costs far more on a large
    ledger, where thousands would be built).
    """
    status, reason = override if override is not None else (None, None)
    if (status, reason) == (cap.status_override, cap.override_reason):
        return cap
    return cap.model_copy(update={"status_override": status, "override_reason": reason})


def outcome_on(cap: Capability, day: dt.date) -> dict[str, object]:
    """Return what differs of a capability's outcome on the day: nothing once it has come.

    An outcome takes effect on its date; one without a date is not surely known by any past
    day, so the capability reads as active then.
    """
    if cap.outcome == Outcome.active or (cap.outcome_date is not None and cap.outcome_date <= day):
        return {}
    return {"outcome": Outcome.active, "outcome_date": None, "outcome_note": None}


def shown_ids(
    parent_of: Mapping[int, int | None], claims: Iterable[Claim], evidence: Iterable[Evidence]
) -> set[int]:
    """Return the capabilities known by then: those with a claim or an item, and their parents."""
    shown: set[int] = set()
    for start in {c.capability_id for c in claims} | {e.capability_id for e in evidence}:
        cap_id: int | None = start
        while cap_id is not None and cap_id not in shown:
            shown.add(cap_id)
            cap_id = parent_of.get(cap_id)
    return shown


@dataclass(frozen=True)
class Preset:
    """One event to step back to: the ledger as of the last day its date can stand for."""

    slug: str
    name: str
    day: dt.date

    @property
    def short(self) -> str:
        """The event's name without its subtitle: 'Hot Chips 34', 'AI Day 2021'."""
        return self.name.split(":")[0].removeprefix("Tesla ").strip()


# The events a reader most often steps back to, offered first.
FEATURED = ("ai-day-2021", "hot-chips-34", "ai-day-2022")
# The presets of the last event list asked for (held, so its identity cannot be reused).
_presets_memo: tuple[list[Event], dt.date, list[Preset]] | None = None


def presets(events: list[Event], today: dt.date) -> list[Preset]:
    """Return every event as a preset, oldest first (an event known to the month: its last day).

    The featured ones come first. Events after today are left out, and so is an event with
    the name and day of one already offered: it would show the very same ledger.
    """
    global _presets_memo
    memo = _presets_memo
    # The snapshot replaces its event list when events change, never edits it in place.
    if memo is not None and memo[0] is events and memo[1] == today:
        return memo[2]
    found: dict[tuple[str, dt.date], Preset] = {}
    for e in sorted(events, key=lambda e: (e.date, e.id or 0)):
        preset = Preset(e.slug, e.name, period_end(e.date, e.date_precision))
        if preset.day < today:
            found.setdefault((preset.name, preset.day), preset)
    shown = sorted(found.values(), key=lambda p: p.slug not in FEATURED)
    _presets_memo = (events, today, shown)
    return shown
