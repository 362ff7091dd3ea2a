"""The load and fault suite, short (about 20 s of load): every invariant holds after faults."""

import os

import pytest

from perf import throwaway_pg

TIMING_CHECKS = {"readers within 2x during queue abuse"}


@pytest.mark.slow
def test_short_load_with_faults_keeps_every_invariant() -> None:
    if not throwaway_pg.available():
        if os.environ.get("CI") == "true":
            pytest.fail("initdb/pg_ctl are not installed; CI must run the load suite")
        pytest.skip("initdb/pg_ctl are not installed")
    from perf.load import run

    report = run(duration=20.0, users=6, faults=True)
    # Latency ratios are measured and printed by perf/load.py, never asserted in a test: on a
    # shared two-core machine they swing with whatever else runs.
    failed = {
        name: r["detail"]
        for name, r in report["invariants"].items()
        if not r["ok"] and name not in TIMING_CHECKS
    }
    assert not failed, failed
    assert len(report["faults"]) == 5, report["faults"]
    server_errors = {
        row["route"]: row["statuses"]["500"] for row in report["routes"] if "500" in row["statuses"]
    }
    assert not server_errors, server_errors  # an outage answers 503, a killed process drops
