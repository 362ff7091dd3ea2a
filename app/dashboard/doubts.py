"""Claims in doubt: the claims readers argue about, shown before a capability's claims table.

Not to be confused with questions (app/questions), the readers' questions as data.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.claims.models import ClaimPublic
from app.evidence.models import EvidencePublic

# Verdicts that put a claim in doubt, most pressing first. A claim only a forum
# reported is "forum only" whatever else is known about it: it is in doubt, not a fact.
DOUBT_VERDICTS = ("contradicted", "disputed", "forum only", "unresolved")


def verdict(claim: ClaimPublic) -> str:
    """Return the claim's computed verdict when it puts the claim in doubt."""
    if claim.grade == "F":
        return "forum only"
    return claim.verdict if claim.verdict in DOUBT_VERDICTS else ""


@dataclass(frozen=True)
class ClaimInDoubt:
    """One claim in doubt, why it is in doubt, and the evidence bearing on it."""

    claim: ClaimPublic
    verdict: str
    overdue_days: int | None
    against: int
    for_: int


def claims_in_doubt(
    claims: Sequence[ClaimPublic], evidence: Sequence[EvidencePublic]
) -> list[ClaimInDoubt]:
    """Return the contradicted, disputed, forum-only and overdue claims, most pressing first."""
    found = []
    for claim in claims:
        claim_verdict = verdict(claim)
        if claim_verdict not in DOUBT_VERDICTS and not claim.overdue_days:
            continue
        bearing = [item for item in evidence if item.claim == claim.slug]
        found.append(
            ClaimInDoubt(
                claim=claim,
                verdict=claim_verdict if claim_verdict in DOUBT_VERDICTS else "",
                overdue_days=claim.overdue_days or None,
                against=sum(1 for item in bearing if item.stance == "contradicts"),
                for_=sum(1 for item in bearing if item.stance == "supports"),
            )
        )
    rank = {name: index for index, name in enumerate(DOUBT_VERDICTS)}
    found.sort(key=lambda q: (rank.get(q.verdict, len(rank)), -(q.overdue_days or 0)))
    return found
