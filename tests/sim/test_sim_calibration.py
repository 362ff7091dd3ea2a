"""The calibration gates of issue 3 hold."""

from __future__ import annotations

from app.sim import api


def test_validate_gates() -> None:
    res = api.validate()
    assert len(res["rows"]) >= 18
    assert res["mape_pct"]["KORTHIKANTI22_T5"] <= 5.0
    assert res["mape_pct"]["NARAYANAN21_T1"] <= 10.0
    assert res["ok"]
    for row in res["rows"]:
        assert abs(row["error_pct"]) < 20
