"""The claims readers argue about, which a capability page shows before its full claims table."""

from collections.abc import Sequence
from dataclasses import dataclass

from app.claims.models import ClaimPublic
from app.evidence.models import EvidencePublic

# Verdicts that make a claim an open question, most pressing first. A claim only a forum
# reported is "forum only" whatever else is known about it: it is a question, not a fact.
OPEN_VERDICTS = ("contradicted", "disputed", "forum only", "unresolved")


def verdict(claim: ClaimPublic) -> str:
    """Return the claim's computed verdict when it makes the claim an open question."""
    if claim.grade == "F":
        return "forum only"
    return claim.verdict if claim.verdict in OPEN_VERDICTS else ""


@dataclass(frozen=True)
class OpenQuestion:
    """One claim in doubt, why it is in doubt, and the evidence bearing on it."""

    claim: ClaimPublic
    verdict: str
    overdue_days: int | None
    against: int
    for_: int


def open_questions(
    claims: Sequence[ClaimPublic], evidence: Sequence[EvidencePublic]
) -> list[OpenQuestion]:
    """Return the contradicted, disputed, forum-only and overdue claims, most pressing first."""
    found = []
    for claim in claims:
        claim_verdict = verdict(claim)
        if claim_verdict not in OPEN_VERDICTS and not claim.overdue_days:
            continue
        bearing = [item for item in evidence if item.claim == claim.slug]
        found.append(
            OpenQuestion(
                claim=claim,
                verdict=claim_verdict if claim_verdict in OPEN_VERDICTS else "",
                overdue_days=claim.overdue_days or None,
                against=sum(1 for item in bearing if item.stance == "contradicts"),
                # Only independent items count for a claim: restatements and reports never do.
                for_=sum(
                    1
                    for item in bearing
                    if item.stance == "supports" and item.origin == "independent"
                ),
            )
        )
    rank = {name: index for index, name in enumerate(OPEN_VERDICTS)}
    found.sort(key=lambda q: (rank.get(q.verdict, len(rank)), -(q.overdue_days or 0)))
    return found
