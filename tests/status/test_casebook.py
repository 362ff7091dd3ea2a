"""The verdict casebook: one row per rule, run through the status engine (no database)."""

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.claims.models import Claim, PromiseState, Verdict
from app.core.config import get_settings, seed_folder
from app.evidence.models import Evidence, Stance
from app.status import casebook
from app.status.rules import Ladder, load_ladder
from app.status.verdicts import load_rules, verdict_for

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


def test_the_rules_and_the_ladder_come_from_the_seed_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LEDGER_SEED_DIR moves the verdict rules and the ladder the engine and casebook read."""
    folder = tmp_path / "seed"
    shutil.copytree(seed_folder(), folder)
    rules = yaml.safe_load((folder / "verdict_rules.yaml").read_text(encoding="utf-8"))
    rules["verdicts"][0]["label"] = "Moved with the seed"
    (folder / "verdict_rules.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    levels = yaml.safe_load((folder / "status_levels.yaml").read_text(encoding="utf-8"))
    levels[-1]["accepted_evidence_kinds"] = ["paper"]
    (folder / "status_levels.yaml").write_text(yaml.safe_dump(levels), encoding="utf-8")
    monkeypatch.setenv("LEDGER_SEED_DIR", str(folder))
    get_settings.cache_clear()  # the files are read once per folder: no other cache to clear
    try:
        assert load_rules().verdicts[0].label == "Moved with the seed"
        assert load_ladder().accepted_kinds[levels[-1]["code"]] == {"paper"}
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert load_rules().verdicts[0].label != "Moved with the seed"


def test_the_casebook_runs_on_the_engines_ladder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The casebook reads the ladder where the engine does: no copy of its own."""
    calls = []

    def ladder() -> Ladder:
        calls.append(1)
        return Ladder({}, {})  # accepts nothing: no item counts toward a status

    monkeypatch.setattr(casebook, "load_ladder", ladder)
    case = next(c for c in CASES if c.get("evidence") and not c.get("overrides"))
    statuses = {fields["status"] for fields in casebook.run(case).capabilities.values()}
    assert calls and statuses == {"not_assessed"}


def test_one_runs_items_for_each_restatement_give_one_reason() -> None:
    """A run records an item per restatement of a figure; pooled, they said it three times."""
    claim = Claim(id=1, slug="peak", text="1.1 EFLOPS", stated_on=dt.date(2021, 8, 19))
    items = [
        Evidence(id=n, title="Simulation run #5: aggregates", kind="simulation_run",
                 origin="computed", stance="supports", grade="D", date=dt.date(2026, 12, 7))
        for n in (10, 11, 12)
    ]  # fmt: skip
    verdict = verdict_for(claim, items, load_rules(), {1: claim})
    computed = [r for r in verdict.reasons if "Simulation run #5" in r]
    assert len(computed) == 1, verdict.reasons


@pytest.mark.parametrize(
    ("grade", "verdict", "doubt"),
    [
        ("F", Verdict.contradicted, "forum_only"),  # a forum's claim is in doubt as such
        ("F", Verdict.unverified, "forum_only"),
        ("S", Verdict.contradicted, "contradicted"),
        ("P", Verdict.unresolved, "unresolved"),
        ("S", Verdict.supported, None),
    ],
)
def test_the_rules_say_what_puts_a_claim_in_doubt(
    grade: str, verdict: Verdict, doubt: str | None
) -> None:
    claim = Claim(id=1, slug="c", text="t", grade=grade, stated_on=dt.date(2021, 8, 19))
    found = load_rules().doubt(claim, verdict)
    assert (found.code if found else None) == doubt
    assert [rule.code for rule in load_rules().doubts] == [
        "contradicted", "disputed", "forum_only", "unresolved"
    ]  # fmt: skip
