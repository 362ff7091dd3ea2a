"""Claim verdicts and promise states, by the rules in the seed folder's verdict_rules.yaml.

Every function here is pure: a verdict is a function of the claim, the evidence linked to it
and the rules; a promise's state adds the claim's capability outcome and the day. Reading the
ledger as of a date is running these over the evidence published by then.
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from app.capabilities.models import Outcome
from app.claims.models import Claim, Doubt, Promise, PromiseState, Verdict
from app.core.config import seed_folder
from app.core.schema import period_end, shown_date
from app.evidence.models import Evidence, Origin, Stance


class Signal(StrEnum):
    """What one item counts as, once the rules have read its origin, kind, grade and stance.

    A verdict rule's `needs` in verdict_rules.yaml names these.
    """

    supports = "supports"  # independent confirmation of the figure or statement
    documents = "documents"  # the claimant's own paper, filing or live demonstration
    contradicts = "contradicts"
    inconclusive = "inconclusive"
    partial = "partial"  # part of a promise delivered


SUPPORTS, DOCUMENTS, CONTRADICTS = Signal.supports, Signal.documents, Signal.contradicts
INCONCLUSIVE, PARTIAL = Signal.inconclusive, Signal.partial
ENDED_OUTCOMES = frozenset({Outcome.abandoned, Outcome.superseded})


@dataclass(frozen=True)
class VerdictRule:
    code: Verdict
    label: str
    needs: frozenset[Signal]
    description: str


@dataclass(frozen=True)
class DoubtRule:
    """What puts a claim in doubt: its verdict, or its own grade (a claim only a forum reported)."""

    code: Doubt
    label: str
    verdict: Verdict | None = None
    claim_grades: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VerdictRules:
    """The verdict rules, as read from their data file."""

    deciding_grades: frozenset[str]
    verdicts: tuple[VerdictRule, ...]
    meets_deadline: frozenset[str]
    documentation_kinds: frozenset[str] = frozenset()
    withdrawing_origins: frozenset[str] = frozenset()
    every_reading_kinds: frozenset[str] = frozenset()
    # Most pressing first.
    doubts: tuple[DoubtRule, ...] = ()
    # Each code's label, per vocabulary: the pages read them from here.
    promise_labels: Mapping[str, str] = field(default_factory=dict)
    origin_labels: Mapping[str, str] = field(default_factory=dict)
    stance_labels: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "VerdictRules":
        """Build the rules from the parsed YAML; a code outside its enum raises ValueError."""
        return cls(
            deciding_grades=frozenset(data["deciding_grades"]),
            verdicts=tuple(
                VerdictRule(
                    Verdict(v["code"]),
                    v["label"],
                    frozenset(Signal(need) for need in v["needs"]),
                    v["description"],
                )
                for v in data["verdicts"]
            ),
            meets_deadline=frozenset(Verdict(code) for code in data["meets_deadline"]),
            documentation_kinds=frozenset(data["documentation_kinds"]),
            withdrawing_origins=frozenset(Origin(code) for code in data["withdrawing_origins"]),
            every_reading_kinds=frozenset(data["every_reading_kinds"]),
            doubts=tuple(
                DoubtRule(
                    Doubt(d["code"]),
                    d["label"],
                    Verdict(d["verdict"]) if d.get("verdict") else None,
                    frozenset(d.get("claim_grades", ())),
                )
                for d in data.get("doubts", ())
            ),
            promise_labels={PromiseState(p["code"]): p["label"] for p in data["promise_states"]},
            origin_labels={Origin(o["code"]): o["label"] for o in data["origins"]},
            stance_labels={Stance(s["code"]): s["label"] for s in data["stances"]},
            raw=data,
        )

    @property
    def verdict_labels(self) -> dict[str, str]:
        """Each verdict's label, in the order the verdicts are tried."""
        return {rule.code: rule.label for rule in self.verdicts}

    def doubt(self, claim: Claim, verdict: Verdict) -> DoubtRule | None:
        """Return what puts the claim in doubt, or None.

        A rule on the claim's own grade wins over its verdict: a claim only a forum reported
        is in doubt as such, whatever else is known about it.
        """
        for rule in self.doubts:
            if claim.grade in rule.claim_grades:
                return rule
        return next((rule for rule in self.doubts if rule.verdict == verdict), None)


def load_rules(path: Path | None = None) -> VerdictRules:
    """Read the verdict rules, from the seed folder (LEDGER_SEED_DIR) unless `path` is given."""
    if path is None:
        return _rules_in(seed_folder())
    return _rules_at(path.resolve())


@lru_cache
def _rules_in(folder: Path) -> VerdictRules:
    return _rules_at(folder / "verdict_rules.yaml")


@lru_cache
def _rules_at(path: Path) -> VerdictRules:
    """Read the rules once per file and process."""
    return VerdictRules.from_data(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class ClaimVerdict:
    code: Verdict
    reasons: tuple[str, ...]
    # What the ledger's own arithmetic or simulation says, on a line of its own: consistent,
    # inconsistent or inconclusive; None without such an item. It never supports a claim.
    consistency: str | None = None
    # For promises: the first item that supports or documents it (its date and the last day
    # that date can stand for), and the first contradiction from a withdrawing origin.
    delivered: tuple[dt.date, dt.date] | None = None
    withdrawn: dt.date | None = None
    # The first deciding item that shows part of it delivered.
    partly_delivered: dt.date | None = None


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
    origin = {
        Origin.claimant: "from the claimant",
        Origin.reported: "reporting the claimant",
        Origin.independent: "independent",
        Origin.computed: "the ledger's own computation",
    }.get(Origin(item.origin), item.origin)
    return f"{item.kind.replace('_', ' ').capitalize()} “{item.title}” ({origin}, {when})"


def item_signal(
    item: Evidence, claim: Claim, rules: VerdictRules, claims_by_id: Mapping[int, Claim]
) -> tuple[str | None, str]:
    """Return what one item counts as for its claim (None: nothing), with the reason."""
    said = _describe(item)
    if dated_before_claim(item, claim, claims_by_id):
        return None, f"{said} is dated before the claim was made; not counted."
    if item.origin == Origin.computed:
        if item.stance == Stance.contradicts and item.kind in rules.every_reading_kinds:
            return CONTRADICTS, (
                f"{said} finds the figure inconsistent with other claimed figures under every "
                "reading; that contradicts it."
            )
        if item.stance == Stance.contradicts:
            assumed = item.assumption or "the simulated scenario's own assumptions hold"
            return INCONCLUSIVE, (
                f"{said} finds the figure inconsistent only if {assumed}; a simulation that "
                "depends on its assumptions is inconclusive, not a contradiction."
            )
        if item.stance == Stance.inconclusive:
            return INCONCLUSIVE, f"{said} is inconclusive: it holds only if {item.assumption}."
        if item.stance == Stance.supports:
            return None, (
                f"{said} finds the figure consistent with other claimed figures; a computation "
                "never supports a claim about the real hardware."
            )
        return None, f"{said} decides nothing."
    if item.grade not in rules.deciding_grades:
        return None, f"{said} {item.stance.replace('_', ' ')} it; forum items never decide a claim."
    if item.stance == Stance.not_found:
        return None, f"{said} searched for it and found nothing (not a contradiction)."
    if item.stance == Stance.partial:
        return PARTIAL, f"{said} shows part of it delivered, not all of it."
    if item.stance == Stance.inconclusive:
        return INCONCLUSIVE, f"{said} is inconclusive: it holds only if {item.assumption}."
    if item.stance == Stance.contradicts:
        return CONTRADICTS, f"{said} contradicts it."
    if item.origin == Origin.independent:
        return SUPPORTS, f"{said} confirms it."
    if item.origin == Origin.claimant and item.kind in rules.documentation_kinds:
        return (
            DOCUMENTS,
            f"{said} documents it; the claimant's own documentation, not confirmation.",
        )
    return None, (
        f"{said} says it again; a restatement by the claimant or a report of it never supports it."
    )


def _consistency(items: Iterable[tuple[Evidence, str | None]]) -> str | None:
    """Return the one answer the computed items give: a contradiction under every reading wins,
    then any item that holds only under an assumption, so that a simulation never reports
    "consistent" where a check of the same figure is inconclusive."""
    computed = [(item, signal) for item, signal in items if item.origin == Origin.computed]
    if any(signal == CONTRADICTS for _, signal in computed):
        return "inconsistent"
    if any(signal == INCONCLUSIVE for _, signal in computed):
        return "inconclusive"
    if any(item.stance == Stance.supports for item, _ in computed):
        return "consistent"
    return None


def _signals(
    claim: Claim, items: Iterable[Evidence], rules: VerdictRules, claims_by_id: Mapping[int, Claim]
) -> list[tuple[Evidence, str | None, str]]:
    return [
        (item, *item_signal(item, claim, rules, claims_by_id))
        for item in sorted(items, key=lambda e: (e.date, e.id or 0))
    ]


def verdict_for(
    claim: Claim,
    items: Iterable[Evidence],
    rules: VerdictRules,
    claims_by_id: Mapping[int, Claim],
) -> ClaimVerdict:
    """Decide one claim from the evidence linked to it, with a reason per item."""
    read = _signals(claim, items, rules, claims_by_id)
    deciding = {signal for _, signal, _ in read if signal is not None}
    # Shared evidence can hold one run's item for each restatement of a figure: the same
    # reason, once.
    reasons = list(dict.fromkeys(reason for _, _, reason in read))
    consistency = _consistency((item, signal) for item, signal, _ in read)
    delivered = next(
        (
            (item.date, period_end(item.date, item.date_precision))
            for item, signal, _ in read
            if signal in (SUPPORTS, DOCUMENTS)
        ),
        None,
    )
    withdrawn = next(
        (
            item.date
            for item, signal, _ in read
            if signal == CONTRADICTS and item.origin in rules.withdrawing_origins
        ),
        None,
    )
    partly = next((item.date for item, signal, _ in read if signal == PARTIAL), None)
    for rule in rules.verdicts:
        if rule.needs <= deciding:
            return ClaimVerdict(
                rule.code,
                (*reasons, f"{rule.label}: {rule.description}"),
                consistency,
                delivered,
                withdrawn,
                partly,
            )
    raise ValueError("the verdict rules need a last rule with no needs")


def pooled_evidence(
    claims_by_id: Mapping[int, Claim], evidence_by_claim: Mapping[int, Sequence[Evidence]]
) -> dict[int, list[Evidence]]:
    """Return each claim's evidence together with that of the claims that are the same claim.

    A claim that restates another, about the same capability and with the same deadline, is a
    new appearance of the same claim: one question gets one answer, so the two share their
    evidence and their verdict. A restatement with another deadline (a promise moved to a new
    date) is a claim of its own.
    """
    root: dict[int, int] = {}

    def find(claim_id: int) -> int:
        while root.get(claim_id, claim_id) != claim_id:
            claim_id = root[claim_id]
        return claim_id

    for claim_id, claim in claims_by_id.items():
        first = claims_by_id.get(claim.restates_id) if claim.restates_id is not None else None
        if (
            first is not None
            and first.capability_id == claim.capability_id
            and first.deadline == claim.deadline
        ):
            a, b = find(claim_id), find(first.id or claim_id)
            if a != b:
                root[a] = b
    members: dict[int, list[int]] = {}
    for claim_id in claims_by_id:
        members.setdefault(find(claim_id), []).append(claim_id)
    pooled: dict[int, list[Evidence]] = {}
    for group in members.values():
        items = [item for member in group for item in evidence_by_claim.get(member, ())]
        for member in group:
            pooled[member] = items
    return pooled


def claim_verdicts(
    claims: Sequence[Claim], evidence: Iterable[Evidence], rules: VerdictRules
) -> dict[int, ClaimVerdict]:
    """Return the verdict of every claim."""
    own: dict[int, list[Evidence]] = {}
    for item in evidence:
        if item.claim_id is not None:
            own.setdefault(item.claim_id, []).append(item)
    claims_by_id = {c.id: c for c in claims if c.id is not None}
    by_claim = pooled_evidence(claims_by_id, own)
    return {
        claim_id: verdict_for(claim, by_claim.get(claim_id, []), rules, claims_by_id)
        for claim_id, claim in claims_by_id.items()
    }


def promise_for(
    claim: Claim,
    verdict: ClaimVerdict,
    rules: VerdictRules,
    outcome: tuple[str, dt.date | None],
    today: dt.date,
) -> Promise | None:
    """Return the state of a claim with a deadline (None without one).

    Kept when its verdict meets the deadline (supported or documented) through an item dated by
    the deadline, kept late through a later one. Partly kept (PolitiFact's "Compromise") once
    the deadline has passed with part of it delivered, with the days fixed at the first partial
    delivery, unless it was withdrawn or its programme ended before that. Broken when the
    claimant withdrew it or its capability ended undelivered, with the days fixed at that date;
    else pending until the deadline, then overdue.
    """
    deadline = claim.deadline
    if deadline is None:
        return None
    if verdict.code in rules.meets_deadline and verdict.delivered is not None:
        on, latest = verdict.delivered
        if on <= today:
            if latest <= deadline:
                return Promise(state=PromiseState.kept, deadline=deadline, resolved_on=on)
            return Promise(
                state=PromiseState.kept_late,
                deadline=deadline,
                resolved_on=on,
                days_late=max(0, (on - deadline).days),
            )
    ends = [verdict.withdrawn] if verdict.withdrawn is not None else []
    state, ended_on = outcome
    if state in ENDED_OUTCOMES and ended_on is not None:
        ends.append(ended_on)
    ended = [day for day in ends if day <= today]
    end = min(ended) if ended else None
    partly = verdict.partly_delivered
    if partly is not None and partly <= today and (end is None or partly <= end):
        if today <= deadline and end is None:  # the rest can still come by the deadline
            return Promise(state=PromiseState.pending, deadline=deadline)
        return Promise(
            state=PromiseState.partly_kept,
            deadline=deadline,
            resolved_on=partly,
            days_late=max(0, (partly - deadline).days),
        )
    if end is not None:
        return Promise(
            state=PromiseState.broken,
            deadline=deadline,
            resolved_on=end,
            days_late=max(0, (end - deadline).days),
        )
    if today <= deadline:
        return Promise(state=PromiseState.pending, deadline=deadline)
    return Promise(state=PromiseState.overdue, deadline=deadline, days_late=(today - deadline).days)
