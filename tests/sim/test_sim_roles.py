"""Checks never echo their inputs: scenarios declare what they assume and what they predict."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from app.sim import api, scenarios
from app.sim.compare import parse_compare
from app.sim.errors import SpecError
from app.sim.paths import seed_dir

# What a seed analytical check's stance says, as the verdict a computation of the same figure
# must give: one question, one answer.
SAME_ANSWER = {"supports": {"consistent"}, "contradicts": {"contradicts"}}


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    return {s["id"]: api.evaluate_scenario(s["id"]) for s in api.list_scenarios()}


def test_every_bundled_scenario_declares_what_it_assumes_and_each_row_its_role() -> None:
    for path in sorted((seed_dir() / "workloads").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        assert isinstance(doc.get("assumes"), list), f"{path.name}: no assumes list"
        for row in doc.get("compare") or []:
            assert row.get("role") in ("assumed", "predicted"), (path.name, row)


def test_no_bundled_comparison_calls_an_assumed_figure_consistent(
    results: dict[str, dict[str, Any]],
) -> None:
    for item in api.list_scenarios():
        assumed = set(item["assumes"])
        for row in results[item["id"]]["comparisons"]:
            if row["claim"] in assumed and row["relation"] != "info":
                assert row["verdict"] == "assumed", (item["id"], row)
            if row["role"] == "assumed":
                assert row["verdict"] == "assumed", (item["id"], row)


def test_echoes_named_in_the_issue_are_assumed(results: dict[str, dict[str, Any]]) -> None:
    """'claimed 25 chips vs simulated 25 chips: consistent' must not be said any more."""
    said = {
        (row["claim"], row["verdict"])
        for res in results.values()
        for row in res["comparisons"]
        if row["claim"]
        in (
            "tile-d1-count-25",
            "tray-tiles-6",
            "cabinet-trays-2",
            # the library's 9 TB/s per edge is the same statement as 36 TB/s off-tile
            "tile-off-tile-bandwidth-36-tbps",
            "tile-off-tile-36-tbps-hc34",
        )
    }
    assert said and {verdict for _claim, verdict in said} == {"assumed"}
    d1 = results["d1-largest-gpt-sram"]["comparisons"]
    assert {r["verdict"] for r in d1 if r["claim"] == "d1-sram-440-mb"} == {"assumed"}


def test_a_predicted_test_of_an_assumed_figure_is_refused() -> None:
    sc = copy.deepcopy(api.load_scenario("exapod-gpt3-175b"))
    sc["compare"][0]["role"] = "predicted"  # the peak, which the scenario assumes
    with pytest.raises(SpecError, match="assumes"):
        scenarios._check_roles(sc, _parsed(sc), "workloads/x.yaml")
    undeclared = copy.deepcopy(api.load_scenario("exapod-gpt3-175b"))
    del undeclared["compare"][1]["role"]
    with pytest.raises(SpecError, match="predicted or assumed"):
        scenarios._check_roles(undeclared, _parsed(undeclared), "workloads/x.yaml")
    del undeclared["assumes"]
    with pytest.raises(SpecError, match="assumes"):
        scenarios._check_roles(undeclared, _parsed(undeclared), "workloads/x.yaml")


def _parsed(sc: dict[str, Any]) -> list[dict[str, Any]]:
    return parse_compare(sc["compare"])


def test_the_exapod_sustained_figure_is_a_finding_beside_the_peak(
    results: dict[str, dict[str, Any]],
) -> None:
    rows = [
        r
        for r in results["exapod-gpt3-175b"]["comparisons"]
        if r["claim"] == "exapod-peak-1-1-eflops"
    ]
    assert {r["verdict"] for r in rows} == {"assumed", "finding"}
    finding = next(r for r in rows if r["verdict"] == "finding")
    assert finding["role"] == "predicted"
    assert finding["simulated"] == pytest.approx(0.37, abs=0.05)  # of the 1.1 EFLOP/s peak


def test_one_question_one_answer_with_the_seed_arithmetic_checks(
    results: dict[str, dict[str, Any]],
) -> None:
    """A computation of a figure gives the answer the seed's arithmetic check gives.

    Where the check says "inconclusive: holds only if both directions are counted", the
    simulated figure carries that assumption instead of reading "consistent 100.8 %".
    """
    evidence = yaml.safe_load((seed_dir() / "evidence.yaml").read_text())
    checks = {e["claim"]: e for e in evidence if e["kind"] == "analytical_check" and e.get("claim")}
    compared = 0
    for res in results.values():
        for row in res["comparisons"]:
            check = checks.get(row["claim"])
            if check is None or row["verdict"] in ("finding", "assumed"):
                continue
            compared += 1
            if check["stance"] == "inconclusive":
                assert row["verdict"] == "inconclusive", (row["claim"], row["verdict"])
                assert row["assumption"], row
            elif check["stance"] in SAME_ANSWER:
                assert row["verdict"] in SAME_ANSWER[check["stance"]], (row["claim"], row)
    assert compared >= 10
    by = {r["claim"]: r for r in results["dojo-consistency"]["comparisons"]}
    off_chip = by["d1-off-chip-bandwidth-4x4-tbps"]
    assert off_chip["verdict"] == "inconclusive" and "both directions" in off_chip["assumption"]
    readings = [
        "d1-off-chip-bandwidth-4x4-tbps",
        "d1-off-chip-bandwidth-4-tbps",
        "d1-off-chip-bandwidth-16000-gbps-hamilton",
    ]
    # Three readings that cannot all be true are never all "consistent" at about 100 %.
    assert {by[slug]["verdict"] for slug in readings} == {"inconclusive"}
