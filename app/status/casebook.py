"""The verdict casebook: worked examples of each rule, run through the engine itself.

The tests check each case's expectations; the ladder explainer shows the same cases with what
the engine computes, so the page and the tests cannot drift apart.
"""

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from app.capabilities.models import Capability
from app.claims.models import Claim
from app.events.models import Event
from app.evidence.models import Evidence
from app.ladder.models import StatusLevel
from app.status.rules import Ladder, assess_ledger, replay
from app.status.verdicts import load_rules

SEED_DIR = Path(__file__).resolve().parents[2] / "seed_data"
CASEBOOK_FILE = SEED_DIR / "verdict_casebook.yaml"


@dataclass(frozen=True)
class Outcome:
    """What the engine computes for one case, keyed like the case's `expect`."""

    capabilities: dict[str, dict[str, Any]]
    claims: dict[str, dict[str, Any]]
    history: list[dict[str, Any]]

    def lines(self) -> list[str]:
        """Describe the outcome in words, for the explainer page."""
        out = [
            f"{slug}: {fields['status'].replace('_', ' ')}"
            + (f", limited by {fields['limited_by']}" if fields.get("limited_by") else "")
            + (f", from {fields['inherited_from']}" if fields.get("inherited_from") else "")
            for slug, fields in self.capabilities.items()
        ]
        out += [
            f"claim {slug}: {fields['verdict']}" + (", overdue" if fields["overdue"] else "")
            for slug, fields in self.claims.items()
        ]
        out += [f"{h['capability']} → {h['to']} on {h['day']}" for h in self.history]
        return out


@lru_cache
def ladder() -> Ladder:
    """Return the real ladder, read from seed_data/status_levels.yaml."""
    rows = yaml.safe_load((SEED_DIR / "status_levels.yaml").read_text(encoding="utf-8"))
    return Ladder.from_rows(StatusLevel.model_validate(row) for row in rows)


@lru_cache
def cases() -> list[dict[str, Any]]:
    """Return the casebook's cases."""
    return list(yaml.safe_load(CASEBOOK_FILE.read_text(encoding="utf-8")))


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def run(case: dict[str, Any]) -> Outcome:
    """Build the case's capabilities, claims and evidence in memory and assess them."""
    today = _day(case.get("today", "2026-01-01"))
    overrides = case.get("overrides", {})
    caps: dict[str, Capability] = {}
    for n, row in enumerate(case["capabilities"], start=1):
        parent = caps.get(row.get("parent", ""))
        caps[row["slug"]] = Capability(
            id=n,
            slug=row["slug"],
            name=row["slug"],
            kind=row["kind"],
            critical=row.get("critical", True),
            parent_id=parent.id if parent else None,
            status_override=overrides.get(row["slug"]),
        )
    claims: dict[str, Claim] = {}
    events: list[Event] = []
    for n, row in enumerate(case.get("claims", []), start=1):
        stated = _day(row["stated_on"])
        events.append(
            Event(id=n, slug=f"event-{n}", name="Event", kind="presentation", date=stated)
        )
        claims[row["slug"]] = Claim(
            id=n,
            slug=row["slug"],
            text=row["text"],
            capability_id=caps[row["capability"]].id or 0,
            event_id=n,
            implied_status=row.get("implied_status", "aspirational"),
            stated_on=stated,
            grade=row["grade"],
            deadline=_day(row["deadline"]) if row.get("deadline") else None,
        )
    evidence = [
        Evidence(
            id=n,
            slug=f"item-{n}",
            title=row["title"],
            kind=row["kind"],
            provenance=row.get("provenance", "third_party"),
            grade=row["grade"],
            stance=row["stance"],
            assumption=row.get("assumption"),
            level=row.get("level"),
            date=_day(row["date"]),
            date_precision=row.get("date_precision", "day"),
            capability_id=caps[row["capability"]].id or 0,
            claim_id=claims[row["claim"]].id if row.get("claim") else None,
        )
        for n, row in enumerate(case.get("evidence", []), start=1)
    ]
    rules = load_rules()
    cap_list, claim_list = list(caps.values()), list(claims.values())
    assessments, verdicts = assess_ledger(cap_list, claim_list, evidence, ladder(), rules, today)
    slug_of = {c.id: slug for slug, c in caps.items()}
    return Outcome(
        capabilities={
            slug: assessments[cap.id].model_dump(mode="json")  # type: ignore[index]
            for slug, cap in caps.items()
        },
        claims={
            slug: {
                "verdict": verdicts[claim.id].code,  # type: ignore[index]
                "overdue": claim.deadline is not None
                and claim.deadline < today
                and verdicts[claim.id].code not in rules.meets_deadline,  # type: ignore[index]
                "reasons": list(verdicts[claim.id].reasons),  # type: ignore[index]
            }
            for slug, claim in claims.items()
        },
        history=[
            {
                "capability": slug_of[change.capability_id],
                "day": change.day.isoformat(),
                "to": change.after.status,
            }
            for change in replay(cap_list, claim_list, events, evidence, ladder(), rules, today)
        ],
    )


@lru_cache
def worked_examples() -> list[tuple[dict[str, Any], list[str]]]:
    """Return every case with what the engine computes for it, for the explainer page."""
    return [(case, run(case).lines()) for case in cases()]
