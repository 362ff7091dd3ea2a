"""The simulated figure shown beside a claim is a check of that claim, never mere context."""

import html
import json
import re

from fastapi.testclient import TestClient

from tests.api.test_benchmark_runs import _drain
from tests.api.test_capabilities import auth

REDUNDANCY = "fsd-hw3-dual-redundancy"


def _queue(client: TestClient, write_token: str, scenario: str) -> int:
    response = client.post(
        "/api/v1/benchmark-runs", json={"scenario_id": scenario}, headers=auth(write_token)
    )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _sim_chart(page: str) -> dict:
    found = re.search(r'id="sim-chart"[^>]*data-chart="([^"]*)"', page)
    assert found, "the capability page has no claimed-against-simulated chart"
    return json.loads(html.unescape(found.group(1)))


def test_a_newer_runs_context_does_not_replace_an_older_runs_check(
    client: TestClient, write_token: str, db_url: str
) -> None:
    _drain(db_url)  # the seed's queued scenarios, if any
    # The split mode runs last: its `info` row for the redundancy claim (no SoC runs the whole
    # network there) must not stand in for the redundant mode's check (2 SoCs).
    redundant = _queue(client, write_token, "fsd-hw3-8cam-redundant")
    split = _queue(client, write_token, "fsd-hw3-8cam-split")
    _drain(db_url)
    split_rows = client.get(f"/api/v1/benchmark-runs/{split}").json()["result"]["comparisons"]
    assert {"claim": REDUNDANCY, "relation": "info", "simulated": 0.0}.items() <= next(
        row for row in split_rows if row["claim"] == REDUNDANCY
    ).items()

    page = client.get("/capabilities/fsd-computer-hw3").text
    row = page[page.index(f'id="claim-{REDUNDANCY}"') :]
    row = row[: row.index("</tr>")]
    assert "simulated 2 SoCs" in row, row
    bars = _sim_chart(page)["bars"]
    assert all(bar["percent"] > 0 for bar in bars), bars
    # Context (info rows) is not drawn as a bar that reads as a verdict.
    assert not any("what the forum claim would buy" in json.dumps(bar) for bar in bars)

    claim_page = client.get(f"/claims/{REDUNDANCY}").text
    assert f'href="/runs/{redundant}"' in claim_page
    assert f'href="/runs/{split}"' not in claim_page.split("<dt>Simulated</dt>")[1][:400]

    # The run page names each claim by its text, draws only checks and calls context so.
    run_page = client.get(f"/runs/{split}").text
    assert "Two dual-redundant SoCs each process all camera input" in run_page
    assert ">context<" in run_page
    run_bars = json.loads(
        html.unescape(
            re.search(r'id="chart-claimed-vs-simulated"[^>]*data-chart="([^"]*)"', run_page).group(
                1
            )  # type: ignore[union-attr]
        )
    )["bars"]
    assert [bar["label"] for bar in run_bars] == ["The FSD computer delivers 144 TOPS."]
