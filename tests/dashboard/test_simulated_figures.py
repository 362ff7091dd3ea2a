"""What simulations say beside a claim: its test first, then findings; never an echoed input."""

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
    assert {"claim": REDUNDANCY, "verdict": "finding", "simulated": 0.0}.items() <= next(
        row for row in split_rows if row["claim"] == REDUNDANCY
    ).items()

    page = client.get("/capabilities/fsd-computer-hw3").text
    row = page[page.index(f'id="claim-{REDUNDANCY}"') :]
    row = row[: row.index("</tr>")]
    assert "simulated 2 SoCs: consistent" in row, row
    split_finding = "finding (8-camera network, split across both SoCs): 0 SoCs"
    assert row.index("simulated 2 SoCs") < row.index(split_finding), row
    bars = _sim_chart(page)["bars"]
    assert all(bar["percent"] > 0 for bar in bars), bars
    # A finding that is not throughput beside a peak is told in words, not drawn as a verdict.
    assert not any("what the forum claim would buy" in json.dumps(bar) for bar in bars)

    claim_page = client.get(f"/claims/{REDUNDANCY}").text
    first = claim_page.split("<dt>Simulations</dt>")[1].split("</li>")[0]
    assert f'href="/runs/{redundant}"' in first and f'href="/runs/{split}"' not in first

    # The run page names each claim by its text, draws only predictions and calls findings so.
    run_page = client.get(f"/runs/{split}").text
    assert "Two dual-redundant SoCs each process all camera input" in run_page
    assert ">finding<" in run_page and "assumed input, not tested" in run_page
    run_bars = json.loads(
        html.unescape(
            re.search(r'id="chart-claimed-vs-simulated"[^>]*data-chart="([^"]*)"', run_page).group(
                1
            )  # type: ignore[union-attr]
        )
    )["bars"]
    assert [bar["label"] for bar in run_bars] == [
        "The FSD computer delivers 144 TOPS. (sustained: a finding)"
    ]
