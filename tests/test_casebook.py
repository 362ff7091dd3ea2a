"""The verdict casebook: one row per rule, run through the status engine (no database)."""

from typing import Any

import pytest

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


def test_every_verdict_and_stance_has_a_case() -> None:
    verdicts = {
        fields["verdict"] for case in CASES for fields in case["expect"].get("claims", {}).values()
    }
    stances = {item["stance"] for case in CASES for item in case.get("evidence", [])}
    assert {"unverified", "unresolved", "disputed"} <= verdicts
    assert stances == {"supports", "contradicts", "inconclusive", "not_found"}


def test_an_inconclusive_reason_names_its_assumption() -> None:
    case = next(c for c in CASES if "inconclusive" in c["rule"])
    reasons = casebook.run(case).claims["chip-16-tbps"]["reasons"]
    assert any("the figure counts both directions" in r for r in reasons)
