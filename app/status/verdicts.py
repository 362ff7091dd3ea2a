"""Claim verdicts: which evidence decides a claim, by the rules in seed_data/verdict_rules.yaml."""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from app.claims.models import Claim
from app.core.schema import period_end, shown_date
from app.evidence.models import Evidence

RULES_FILE = Path(__file__).resolve().parents[2] / "seed_data" / "verdict_rules.yaml"


@dataclass(frozen=True)
class VerdictRule:
    code: str
    label: str
    needs: frozenset[str]
    description: str


@dataclass(frozen=True)
class VerdictRules:
    """The verdict rules, as read from their data file."""

    deciding_grades: frozenset[str]
    verdicts: tuple[VerdictRule, ...]
    meets_deadline: frozenset[str]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "VerdictRules":
        """Build the rules from the parsed YAML."""
        return cls(
            deciding_grades=frozenset(data["deciding_grades"]),
            verdicts=tuple(
                VerdictRule(v["code"], v["label"], frozenset(v["needs"]), v["description"])
                for v in data["verdicts"]
            ),
            meets_deadline=frozenset(data["meets_deadline"]),
            raw=data,
        )


@lru_cache
def load_rules(path: Path = RULES_FILE) -> VerdictRules:
    """Read the verdict rules (once per process)."""
    return VerdictRules.from_data(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class ClaimVerdict:
    code: str
    reasons: tuple[str, ...]


def first_statement(claim: Claim, claims_by_id: Mapping[int, Claim]) -> dt.date:
    """Return when the claim was first made: the oldest claim it restates, or itself."""
    earliest, cursor, seen = claim.stated_on, claim, set()
    while cursor.restates_id is not None and cursor.restates_id not in seen:
        seen.add(cursor.restates_id)
        restated = claims_by_id.get(cursor.restates_id)
        if restated is None:
            break
        earliest, cursor = min(earliest, restated.stated_on), restated
    return earliest


def dated_before_claim(item: Evidence, claim: Claim, claims_by_id: Mapping[int, Claim]) -> bool:
    """Return whether an item is surely older than every statement of the claim it bears on."""
    latest_possible = period_end(item.date, item.date_precision)
    return latest_possible < first_statement(claim, claims_by_id)


def _describe(item: Evidence) -> str:
    when = shown_date(item.date, item.date_precision)
    return f"{item.grade}-grade {item.kind.replace('_', ' ')} “{item.title}” ({when})"


def verdict_for(
    claim: Claim,
    items: Iterable[Evidence],
    rules: VerdictRules,
    claims_by_id: Mapping[int, Claim],
) -> ClaimVerdict:
    """Decide one claim from the evidence linked to it, with a reason per item."""
    deciding: set[str] = set()
    reasons: list[str] = []
    for item in sorted(items, key=lambda e: (e.date, e.id or 0)):
        said = {
            "inconclusive": f"is inconclusive: it holds only if {item.assumption}",
            "not_found": "searched for it and found nothing (not a contradiction)",
        }.get(item.stance, f"{item.stance} it")
        if dated_before_claim(item, claim, claims_by_id):
            reasons.append(f"{_describe(item)} is dated before the claim was made; not counted.")
        elif item.grade not in rules.deciding_grades:
            reasons.append(
                f"{_describe(item)} {said}; forum and derived items never decide a claim alone."
            )
        else:
            if item.stance != "not_found":
                deciding.add(item.stance)
            reasons.append(f"{_describe(item)} {said}.")
    for rule in rules.verdicts:
        if rule.needs <= deciding:
            return ClaimVerdict(rule.code, (*reasons, f"{rule.label}: {rule.description}"))
    raise ValueError("the verdict rules need a last rule with no needs")


def claim_verdicts(
    claims: Sequence[Claim], evidence: Iterable[Evidence], rules: VerdictRules
) -> dict[int, ClaimVerdict]:
    """Return the verdict of every claim."""
    by_claim: dict[int, list[Evidence]] = {}
    for item in evidence:
        if item.claim_id is not None:
            by_claim.setdefault(item.claim_id, []).append(item)
    claims_by_id = {c.id: c for c in claims if c.id is not None}
    return {
        claim_id: verdict_for(claim, by_claim.get(claim_id, []), rules, claims_by_id)
        for claim_id, claim in claims_by_id.items()
    }
