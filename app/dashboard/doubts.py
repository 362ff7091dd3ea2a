"""Claims in doubt: the claims readers argue about, shown before a capability's claims table.

Not to be confused with questions (app/questions), the readers' questions as data.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.claims import service as claims_service
from app.claims.models import Claim, ClaimPublic
from app.evidence.models import Evidence
from app.status.snapshot import Snapshot

# Verdicts that put a claim in doubt, most pressing first. A claim only a forum
# reported is "forum only" whatever else is known about it: it is in doubt, not a fact.
DOUBT_VERDICTS = ("contradicted", "disputed", "forum only", "unresolved")


def verdict(snap: Snapshot, claim: Claim) -> str:
    """Return the claim's computed verdict when it puts the claim in doubt."""
    if claim.grade == "F":
        return "forum only"
    code = str(snap.verdicts[claim.id or 0].code)
    return code if code in DOUBT_VERDICTS else ""


@dataclass(frozen=True)
class ClaimInDoubt:
    """One claim in doubt, why it is in doubt, and the evidence bearing on it."""

    claim: ClaimPublic
    verdict: str
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
    rank = {name: index for index, name in enumerate(DOUBT_VERDICTS)}
    found = []
    for claim in claims:
        claim_verdict = verdict(snap, claim)
        overdue = snap.overdue_days(claim)
        if claim_verdict or overdue:
            found.append(
                (rank.get(claim_verdict, len(rank)), -(overdue or 0), claim_verdict, claim)
            )
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
            verdict=claim_verdict,
            overdue_days=-minus_overdue or None,
            against=sum(
                1 for item in bearing.get(claim.id or 0, ()) if item.stance == "contradicts"
            ),
            # Only independent items count for a claim: restatements and reports never do.
            for_=sum(
                1
                for item in bearing.get(claim.id or 0, ())
                if item.stance == "supports" and item.origin == "independent"
            ),
        )
        for _rank, minus_overdue, claim_verdict, claim in found[:limit]
    ], len(found)
