"""Checks (arithmetic, simulations) kept apart from evidence, and never echoing their inputs."""

import html
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.dashboard import edit
from app.evidence.checks import is_check
from tests.api.test_benchmark_runs import _drain
from tests.api.test_capabilities import auth

SCENARIOS = ("dojo-consistency", "exapod-gpt3-175b", "tile-gpt-scaling", "d1-largest-gpt-sram")


@pytest.fixture
def ran(client: TestClient, write_token: str, db_url: str) -> dict[str, int]:
    """Run the scenarios the D1, tile and ExaPOD pages show; return their run ids."""
    ids = {}
    for scenario in SCENARIOS:
        response = client.post(
            "/api/v1/benchmark-runs", json={"scenario_id": scenario}, headers=auth(write_token)
        )
        assert response.status_code == 202, response.text
        ids[scenario] = int(response.json()["id"])
    _drain(db_url)
    for run_id in ids.values():
        assert client.get(f"/api/v1/benchmark-runs/{run_id}").json()["state"] == "succeeded"
    return ids


def _claim_row(page: str, slug: str) -> str:
    row = page[page.index(f'id="claim-{slug}"') :]
    return row[: row.index("</tr>")]


def _chart(page: str, chart_id: str) -> dict | None:
    found = re.search(rf'id="{chart_id}"[^>]*data-chart="([^"]*)"', page)
    return json.loads(html.unescape(found.group(1))) if found else None


def test_d1_and_tile_pages_never_show_an_assumed_input_as_consistent(
    client: TestClient, ran: dict[str, int]
) -> None:
    tile = client.get("/capabilities/dojo-training-tile").text
    row = _claim_row(tile, "tile-d1-count-25")
    assert "assumed as a simulation input" in row, row
    assert "consistent" not in row, row  # was "simulated 25 chips: consistent"
    peak = _claim_row(tile, "tile-peak-bf16-9-pflops")
    assert "finding (GPT training across 1 to 25 D1):" in peak, peak
    assert "% of the claimed peak" in peak, peak
    bars = (_chart(tile, "sim-chart") or {}).get("bars", [])
    # Only predictions are drawn: the sustained finding, never the 25 x 362 TFLOPS echo.
    assert bars and all(bar["percent"] < 50 for bar in bars), bars
    assert 'id="assumed-inputs"' in tile and "25 D1 chips" in tile

    d1 = client.get("/capabilities/dojo-d1").text
    sram = _claim_row(d1, "d1-sram-440-mb")
    assert "assumed as a simulation input" in sram
    assert "simulated 442.5 MB: consistent" not in sram
    # The three off-chip readings cannot all be true: none is "consistent" at about 100 %.
    for slug in (
        "d1-off-chip-bandwidth-4x4-tbps",
        "d1-off-chip-bandwidth-4-tbps",
        "d1-off-chip-bandwidth-16000-gbps-hamilton",
    ):
        row = _claim_row(d1, slug)
        assert ", inconclusive" in row and "holds only if" in row and "both directions" in row
        assert "consistent" not in row, row
    chart = _chart(d1, "sim-chart")
    assert chart is None or all(bar["percent"] < 99 for bar in chart["bars"])


def test_exapod_page_shows_the_sustained_figure_beside_the_peak_claim(
    client: TestClient, ran: dict[str, int]
) -> None:
    page = client.get("/capabilities/dojo-exapod").text
    row = _claim_row(page, "exapod-peak-1-1-eflops")
    found = re.search(
        r"finding \(GPT-3 175B training\): (0\.3\d+) EFLOPS \((\d+(?:\.\d+)?) % of the claimed peak\)",
        row,
    )
    assert found, row
    assert "assumed as a simulation input" in row  # the 1.1 EFLOP/s peak is the model's input
    assert "holds only if holds only if" not in page.lower()  # an assumption said once
    bars = _chart(page, "sim-chart")["bars"]  # type: ignore[index]
    sustained = [bar for bar in bars if "sustained on GPT-3 175B training" in bar["label"]]
    assert len(sustained) == 1 and sustained[0]["claimed"] == pytest.approx(1.1)
    assert 30 < sustained[0]["percent"] < 40


def test_two_findings_beside_one_claim_name_their_workloads(
    client: TestClient, write_token: str, db_url: str
) -> None:
    for scenario in ("exapod-gpt3-175b", "exapod-vision-scaling"):
        response = client.post(
            "/api/v1/benchmark-runs", json={"scenario_id": scenario}, headers=auth(write_token)
        )
        assert response.status_code == 202, response.text
    _drain(db_url)
    row = _claim_row(client.get("/capabilities/dojo-exapod").text, "exapod-peak-1-1-eflops")
    labels = re.findall(r"finding \(([^)]*)\): 0\.\d+ EFLOPS", row)
    # Both sustain a share of the 1.1 EFLOP/s peak; a bare "finding:" could not tell them apart.
    assert sorted(labels) == ["GPT-3 175B training", "multi-camera vision network training"], row
    claim = client.get("/claims/exapod-peak-1-1-eflops").text
    assert "finding (GPT-3 175B training):" in claim
    assert "finding (multi-camera vision network training):" in claim


def test_claim_page_lists_checks_in_a_section_of_their_own(client: TestClient) -> None:
    page = client.get("/claims/d1-peak-bf16-362-tflops").text
    evidence = page[page.index('id="ev-h"') : page.index('id="checks-h"')]
    checks = page[page.index('id="checks-h"') :]
    assert ">Checks (" in checks and 'id="checks-table"' in checks
    assert "Check: 354 x 1.024 TFLOPS" in checks
    # The evidence table is about the world: no computed item, no "never counts" flag in it.
    assert "Check: " not in evidence and "never counts" not in evidence
    assert "<td" in evidence  # the claim has evidence about the world too


def test_assumed_inputs_and_findings_record_no_evidence(
    client: TestClient, ran: dict[str, int]
) -> None:
    items = client.get("/api/v1/evidence?checks=only&limit=200").json()["items"]
    by_run: dict[int, list[dict]] = {}
    for item in items:
        if item["benchmark_run_id"]:
            by_run.setdefault(item["benchmark_run_id"], []).append(item)
    # The ExaPOD run only assumes its figures and finds the sustained throughput.
    assert ran["exapod-gpt3-175b"] not in by_run
    consistency = {e["claim"]: e for e in by_run[ran["dojo-consistency"]]}
    assert "tile-d1-count-25" not in consistency
    off_chip = consistency["d1-off-chip-bandwidth-4x4-tbps"]
    assert off_chip["stance"] == "inconclusive" and "both directions" in off_chip["assumption"]
    assert all(e["stance"] != "supports" or e["counts_toward_status"] is False for e in items)


def test_evidence_list_opens_with_evidence_about_the_hardware(
    client: TestClient, ran: dict[str, int]
) -> None:
    page = client.get("/evidence").text
    assert "Simulation run #" not in page and "Check: " not in page
    assert '<a href="/checks"' in page  # in the nav and the lede
    with_checks = client.get("/evidence?checks=include").text
    assert "Simulation run #" in with_checks and "Check: " not in page
    assert "Check: " in client.get("/evidence?checks=only&capability=dojo-d1").text
    only = client.get("/evidence?kind=simulation_run").text  # a check kind asks for checks
    assert "Simulation run #" in only

    checks = client.get("/checks").text
    assert "Simulation run #" in checks and "Next page" in checks
    assert "Check: 354 x 1.024 TFLOPS" in client.get("/checks?capability=dojo-d1").text
    assert "Findings: what the simulations predict" in checks
    assert "Assumed: claimed figures the simulations take as inputs" in checks
    tile = client.get("/checks?capability=dojo-training-tile").text
    assert "Check: 25 x 362 TFLOPS" in tile and "Check: 354 x 1.024" not in tile

    cap = client.get("/capabilities/dojo-d1").text
    evidence = cap[cap.index('id="evidence-h"') : cap.index('id="history-h"')]
    checks_section = cap[cap.index('id="bench-h"') : cap.index('id="evidence-h"')]
    assert "Check: " not in evidence and "Simulation run #" not in evidence
    assert "Check: 354 x 1.024 TFLOPS" in checks_section


def test_api_evidence_list_filters_checks(client: TestClient, ran: dict[str, int]) -> None:
    def listed(query: str) -> list[dict]:
        response = client.get(f"/api/v1/evidence?limit=200{query}")
        assert response.status_code == 200, response.text
        return response.json()["items"]

    everything, world, only = listed(""), listed("&checks=exclude"), listed("&checks=only")
    assert world and only and len(everything) == len(world) + len(only)
    assert not any(is_check(_Item(e)) for e in world)
    assert all(is_check(_Item(e)) for e in only)
    # A claimant's own word about its simulations is evidence about the world, not a check.
    assert any(e["kind"] == "simulation_run" for e in world)
    bad = client.get("/api/v1/evidence?checks=maybe")
    assert bad.status_code == 422


def test_timeline_and_picker_leave_checks_out(
    client: TestClient, ran: dict[str, int], session: Session
) -> None:
    timeline = client.get("/timeline").text
    assert "Simulation run #" not in timeline and "Check: " not in timeline
    assert "Simulation run #" in client.get("/timeline?checks=include").text
    scoped = client.get("/timeline?capability=dojo-d1").text
    assert "Check: 354 x 1.024" not in scoped
    assert "Check: 354 x 1.024" in client.get("/timeline?capability=dojo-d1&checks=include").text

    picker = edit._status_context(session, "dojo-d1", {})["evidence"]
    assert picker and not any(is_check(e) for e in picker)


class _Item:
    def __init__(self, data: dict) -> None:
        self.origin = data["origin"]
