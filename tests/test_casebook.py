"""The verdict casebook: one row per rule, run through the status engine (no database)."""

from typing import Any

import pytest

from app.claims.models import PromiseState, Verdict
from app.evidence.models import Stance
from app.status import casebook

CASES = casebook.cases()


def _subset(actual: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {key: actual.get(key) for key in expected}


@pytest.mark.parametrize("case", CASES, ids=[c["rule"][:60] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    outcome = casebook.run(case)
    expect = dict(case["expect"])
    for slug, fields in expect.pop("claims", {}).items():
        assert _subset(outcome.claims[slug], fields) == fields, outcome.claims[slug]["reasons"]
    if "history" in expect:
        assert outcome.history == expect.pop("history")
    for slug, fields in expect.items():
        assert _subset(outcome.capabilities[slug], fields) == fields


def test_every_verdict_stance_and_promise_state_has_a_case() -> None:
    claims = [fields for case in CASES for fields in case["expect"].get("claims", {}).values()]
    stances = {item["stance"] for case in CASES for item in case.get("evidence", [])}
    assert {fields["verdict"] for fields in claims} == {v.value for v in Verdict}
    assert stances == {s.value for s in Stance}
    assert {f["promise_state"] for f in claims if "promise_state" in f} == {
        s.value for s in PromiseState
    }


@pytest.mark.parametrize(
    "row",
    [
        "Repetition only",
        "Reported only",
        "Claimant documentation",
        "Independent support",
        "Computation only",
        "Computation against independent support",
        "Partial delivery of a promise",
    ],
)
def test_the_casebook_has_a_row_for_each_rule_of_issue_15(row: str) -> None:
    assert any(case["rule"].startswith(row) for case in CASES)


def test_an_inconclusive_reason_names_its_assumption() -> None:
    case = next(c for c in CASES if c["rule"].startswith("An inconclusive check"))
    reasons = casebook.run(case).claims["chip-16-tbps"]["reasons"]
    assert any("the figure counts both directions" in r for r in reasons)


def test_the_worked_examples_say_what_the_engine_computed() -> None:
    lines = {case["rule"]: out for case, out in casebook.worked_examples()}
    kept_late = next(v for k, v in lines.items() if k.startswith("A promise delivered after"))
    assert "claim year-away: documented; promise kept late, 687 days past the deadline" in " ".join(
        kept_late
    )
    consistent = next(v for k, v in lines.items() if k.startswith("Computation only"))
    assert "claim pod-peak: unverified; computation: consistent" in consistent
