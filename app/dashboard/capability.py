"""A capability page's claims and evidence, a page at a time, and its chart drawn from them all.

Rows come from the snapshot (already as of the day shown); only the page shown is turned into
public models, so a page costs the same whether the capability holds ten claims or ten thousand.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.claims.models import Claim
from app.core.bounds import CAPABILITY_PAGE_ROWS
from app.core.errors import check_filter
from app.dashboard import charts
from app.evidence.checks import is_check
from app.evidence.models import Evidence
from app.status.snapshot import Snapshot

_Row = TypeVar("_Row")
_Shown = TypeVar("_Shown")


@dataclass(frozen=True)
class Page(Generic[_Shown]):
    """One page of a table: its rows, its number and how many pages and rows there are."""

    rows: list[_Shown]
    number: int
    count: int
    total: int

    @property
    def first(self) -> int:
        """Return the position (from 1) of the page's first row among all the rows."""
        return (self.number - 1) * CAPABILITY_PAGE_ROWS + 1


def page_count(total: int) -> int:
    """Return how many pages hold `total` rows (one, empty, when there are none)."""
    return max(1, math.ceil(total / CAPABILITY_PAGE_ROWS))


def page_of(
    field: str, asked: str | None, rows: Sequence[_Row], public: Callable[[_Row], _Shown]
) -> Page[_Shown]:
    """Return the page `asked` for (the first when not asked) of the rows, as public models.

    An unknown page number is refused (400), listing the pages there are.
    """
    count = page_count(len(rows))
    number = int(check_filter(field, asked, [str(n) for n in range(1, count + 1)]) or 1)
    begin = (number - 1) * CAPABILITY_PAGE_ROWS
    shown = rows[begin : begin + CAPABILITY_PAGE_ROWS]
    return Page([public(row) for row in shown], number, count, len(rows))


@dataclass(frozen=True)
class Rows:
    """A capability's claims, evidence about the world and the ledger's checks, oldest first."""

    claims: list[Claim]
    evidence: list[Evidence]
    checks: list[Evidence]


def rows(snap: Snapshot, cap_id: int) -> Rows:
    """Return the capability's rows in the order its tables list them (date, then id)."""
    claims = sorted(snap.claims_by_capability.get(cap_id, ()), key=lambda c: (c.stated_on, c.id))
    everything = sorted(snap.evidence_by_capability.get(cap_id, ()), key=lambda e: (e.date, e.id))
    return Rows(
        claims=claims,
        evidence=[e for e in everything if not is_check(e)],
        checks=[e for e in everything if is_check(e)],
    )


def chart_marks(
    snap: Snapshot, found: Rows
) -> tuple[list[charts.ClaimMark], list[charts.EvidenceMark]]:
    """Return what the capability chart draws of every claim and evidence item."""
    claims = [
        charts.ClaimMark(c.stated_on, c.date_precision, c.implied_status, c.text)
        for c in found.claims
    ]
    implied = {c.id: c.implied_status for c in found.claims}
    evidence = [
        charts.EvidenceMark(
            e.date,
            e.date_precision,
            e.title,
            e.level,
            e.stance,
            snap.ladder.counts(e),
            implied.get(e.claim_id),
        )
        for e in found.evidence
    ]
    return claims, evidence
