"""Claims in doubt: the claims readers argue about, shown before a capability's claims table.

Not to be confused with questions (app/questions), the readers' questions as data.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.claims import service as claims_service
from app.claims.models import Claim, ClaimPublic
from app.evidence.models import Evidence, Origin, Stance
from app.status.snapshot import Snapshot
from app.status.verdicts import DoubtRule


@dataclass(frozen=True)
class ClaimInDoubt:
    """One claim in doubt, why it is in doubt, and the evidence bearing on it."""

    claim: ClaimPublic
    doubt: DoubtRule | None  # None: in doubt only because its promise is overdue
    overdue_days: int | None
    against: int
    for_: int


def claims_in_doubt(
    snap: Snapshot, claims: Sequence[Claim], evidence: Sequence[Evidence], limit: int
) -> tuple[list[ClaimInDoubt], int]:
    """Return the `limit` most pressing contradicted, disputed, forum-only and overdue claims,
    and how many claims are in doubt in all.

    Only the claims shown are turned into public models; `evidence` is what may bear on them.
    """
    # The verdict rules say what puts a claim in doubt, most pressing first.
    rank = {rule.code: index for index, rule in enumerate(snap.rules.doubts)}
    found = []
    for claim in claims:
        doubt = snap.rules.doubt(claim, snap.verdicts[claim.id or 0].code)
        overdue = snap.overdue_days(claim)
        if doubt or overdue:
            found.append((rank[doubt.code] if doubt else len(rank), -(overdue or 0), doubt, claim))
    # A stable sort on the two keys keeps the claims' own order within a rank.
    found.sort(key=lambda entry: (entry[0], entry[1]))
    shown = {claim.id for *_, claim in found[:limit]}
    bearing: dict[int, list[Evidence]] = {}
    for item in evidence:
        if item.claim_id is not None and item.claim_id in shown:
            bearing.setdefault(item.claim_id, []).append(item)
    return [
        ClaimInDoubt(
            claim=claims_service.to_public(claim, snap),
            doubt=doubt,
            overdue_days=-minus_overdue or None,
            against=sum(
                1 for item in bearing.get(claim.id or 0, ()) if item.stance == Stance.contradicts
            ),
            # Only independent items count for a claim: restatements and reports never do.
            for_=sum(
                1
                for item in bearing.get(claim.id or 0, ())
                if item.stance == Stance.supports and item.origin == Origin.independent
            ),
        )
        for _rank, minus_overdue, doubt, claim in found[:limit]
    ], len(found)
