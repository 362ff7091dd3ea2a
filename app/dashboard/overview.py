"""The overview's rows and counts, kept per snapshot and shown a page at a time.

The counts cover the whole ledger and the rows its whole hierarchy, but both are worked out
once per snapshot (a snapshot stands for one data version and day and is never changed); a
request then filters plain tuples and turns only the page it shows into public models.
"""

import threading
import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Any

from app.capabilities import service as cap_service
from app.capabilities.models import Capability, CapabilityPublic
from app.claims.models import PromiseState
from app.core.bounds import OVERVIEW_PAGE_ROWS
from app.status.snapshot import Snapshot

# One capability in hierarchy order: the row, its depth, its status and its kind.
Row = tuple[Capability, int, str, str]


@dataclass(frozen=True)
class Tally:
    """What the overview reads of one snapshot: its rows in order, and its counts."""

    rows: list[Row]
    by_status: Counter[str]
    by_verdict: Counter[str]
    by_promise: Counter[str]
    summary: dict[str, int]


@dataclass(frozen=True)
class Page:
    """One page of the overview: its rows with their depth, and where it sits among the pages."""

    rows: list[tuple[CapabilityPublic, int]]
    number: int
    count: int
    matching: int


# Tallies by snapshot identity; the weak reference tells a live snapshot from a reused id.
_tallies: dict[int, tuple[weakref.ref[Snapshot], Tally]] = {}
_tallies_lock = threading.Lock()


def tally(snap: Snapshot) -> Tally:
    """Return the snapshot's rows and counts, worked out on its first overview."""
    kept = _tallies.get(id(snap))
    if kept is not None and kept[0]() is snap:
        return kept[1]
    rows: list[Row] = [
        (cap, depth, snap.assessments[cap.id or 0].status, cap.kind)
        for cap, depth in cap_service.hierarchy_order(snap)
    ]
    assessments = [snap.assessments[cap.id or 0] for cap, *_ in rows]
    by_promise = Counter(
        promise.state.value
        for claim in snap.claims_by_id.values()
        if (promise := snap.promise(claim)) is not None
    )
    found = Tally(
        rows=rows,
        by_status=Counter(a.status for a in assessments),
        by_verdict=Counter(v.code for v in snap.verdicts.values()),
        by_promise=by_promise,
        summary={
            "total": len(rows),
            "above": sum(1 for a in assessments if a.gap > 0),
            # As of a past day, an outcome counts only once its date had come.
            "ended": sum(
                1
                for cap, *_ in rows
                if snap.outcome_of(cap).get("outcome", cap.outcome) != "active"
            ),
            "overdue": sum(len(a.overdue) for a in assessments),
            "contradicted": sum(a.contradicted_claims for a in assessments),
            "disputed": sum(a.disputed_claims for a in assessments),
        },
    )
    with _tallies_lock:
        for key, (ref, _) in list(_tallies.items()):
            if ref() is None:
                del _tallies[key]
        _tallies[id(snap)] = (weakref.ref(snap), found)
    return found


def matching(snap: Snapshot, status: str | None, kind: str | None) -> list[Row]:
    """Return the capabilities that pass the filters, in hierarchy order."""
    return [
        row
        for row in tally(snap).rows
        if (status is None or row[2] == status) and (kind is None or row[3] == kind)
    ]


def page_starts(rows: list[Row]) -> list[int]:
    """Return the index each page starts at.

    A page ends before the next top-level capability once it holds OVERVIEW_PAGE_ROWS rows,
    so a hierarchy is not split across pages; a page never holds twice that (a filtered list
    may have no top-level rows at all).
    """
    starts = [0]
    for index, (_cap, depth, *_) in enumerate(rows):
        size = index - starts[-1]
        if (size >= OVERVIEW_PAGE_ROWS and depth == 0) or size >= 2 * OVERVIEW_PAGE_ROWS:
            starts.append(index)
    return starts


def page_of(snap: Snapshot, rows: list[Row], number: int) -> Page:
    """Return one page (numbered from 1) of the rows, as public models."""
    starts = page_starts(rows)
    begin = starts[number - 1]
    end = starts[number] if number < len(starts) else len(rows)
    return Page(
        rows=[(cap_service.to_public(cap, snap), depth) for cap, depth, *_ in rows[begin:end]],
        number=number,
        count=len(starts),
        matching=len(rows),
    )


def summary(snap: Snapshot, verdict_codes: list[str], levels: list[str]) -> dict[str, Any]:
    """Return the overview's counts over every capability and claim the snapshot holds.

    Levels and verdicts are counted in the order given, each listed even when none holds it.
    """
    kept = tally(snap)
    return {
        **kept.summary,
        "by_status": {level: kept.by_status[level] for level in levels},
        # Dated commitments per promise state, in the rules' order.
        "promises": {state.value: kept.by_promise[state.value] for state in PromiseState},
        "verdicts": {
            "total": len(snap.verdicts),
            "by_verdict": {code: kept.by_verdict[code] for code in verdict_codes},
        },
    }
