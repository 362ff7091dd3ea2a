"""The verdict casebook: worked examples of each rule, run through the engine itself.

The tests check each case's expectations; the ladder explainer shows the same cases with what
the engine computes, so the page and the tests cannot drift apart.
"""

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from app.capabilities.models import Capability
from app.claims.models import Claim, PromiseState
from app.core.config import seed_folder
from app.events.models import Event, EventKind
from app.evidence.models import Evidence
from app.status.rules import assess_ledger, load_ladder, replay
from app.status.verdicts import ClaimVerdict, VerdictRules, load_rules, promise_for


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
        for slug, fields in self.claims.items():
            line = f"claim {slug}: {fields['verdict']}"
            if fields.get("consistency"):
                line += f"; computation: {fields['consistency']}"
            promise = fields.get("promise")
            if promise:
                line += f"; promise {promise['state'].replace('_', ' ')}"
                if promise.get("days_late"):
                    line += f", {promise['days_late']:,} days past the deadline"
                if promise.get("resolved_on"):
                    line += f" (resolved {promise['resolved_on']})"
            out.append(line)
        out += [f"{h['capability']} → {h['to']} on {h['day']}" for h in self.history]
        return out


@lru_cache
def cases() -> list[dict[str, Any]]:
    """Return the casebook's cases."""
    path = seed_folder() / "verdict_casebook.yaml"
    return list(yaml.safe_load(path.read_text(encoding="utf-8")))


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
            outcome=row.get("outcome", "active"),
            outcome_date=_day(row["outcome_date"]) if row.get("outcome_date") else None,
        )
    claims: dict[str, Claim] = {}
    events: list[Event] = []
    for n, row in enumerate(case.get("claims", []), start=1):
        stated = _day(row["stated_on"])
        events.append(
            Event(id=n, slug=f"event-{n}", name="Event", kind=EventKind.presentation, date=stated)
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
            claimant=row.get("claimant", "Tesla"),
            claimant_kind=row.get("claimant_kind", "company"),
            deadline=_day(row["deadline"]) if row.get("deadline") else None,
        )
    evidence = [
        Evidence(
            id=n,
            slug=f"item-{n}",
            title=row["title"],
            kind=row["kind"],
            origin=row["origin"],
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
    assessments, verdicts = assess_ledger(
        cap_list, claim_list, evidence, load_ladder(), rules, today
    )
    slug_of = {c.id: slug for slug, c in caps.items()}
    caps_by_id = {c.id: c for c in caps.values() if c.id is not None}
    return Outcome(
        capabilities={
            slug: assessments[cap.id].model_dump(mode="json")  # type: ignore[index]
            for slug, cap in caps.items()
        },
        claims={
            slug: _claim_outcome(claim, verdicts[claim.id], caps_by_id, rules, today)  # type: ignore[index]
            for slug, claim in claims.items()
        },
        history=[
            {
                "capability": slug_of[change.capability_id],
                "day": change.day.isoformat(),
                "to": change.after.status,
            }
            for change in replay(
                cap_list, claim_list, events, evidence, load_ladder(), rules, today
            )
        ],
    )


def _claim_outcome(
    claim: Claim,
    verdict: ClaimVerdict,
    caps_by_id: dict[int, Capability],
    rules: VerdictRules,
    today: dt.date,
) -> dict[str, Any]:
    cap = caps_by_id[claim.capability_id]
    promise = promise_for(claim, verdict, rules, (cap.outcome, cap.outcome_date), today)
    return {
        "verdict": verdict.code,
        "consistency": verdict.consistency,
        "promise": promise.model_dump(mode="json") if promise else None,
        "overdue": promise is not None and promise.state == PromiseState.overdue,
        "promise_state": promise.state.value if promise else None,
        "days_late": promise.days_late if promise else None,
        "resolved_on": promise.resolved_on.isoformat() if promise and promise.resolved_on else None,
        "reasons": list(verdict.reasons),
    }


@lru_cache
def worked_examples() -> list[tuple[dict[str, Any], list[str]]]:
    """Return every case with what the engine computes for it, for the explainer page."""
    return [(case, run(case).lines()) for case in cases()]
