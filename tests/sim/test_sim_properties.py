"""Monotonicity properties of the training model (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.sim import api

BASE = {
    "kind": "llm-training",
    "model": {"layers": 24, "hidden": 2048, "heads": 16, "seq_len": 2048, "vocab": 51200},
    "precision": "bf16",
    "recompute": "selective",
}


def _spec(hw: object, tp: int, pp: int, dp: int, micro: int, glob: int) -> dict:
    return {
        **BASE,
        "hardware": hw,
        "parallelism": {"tp": tp, "pp": pp, "dp": dp, "sequence_parallel": tp > 1},
        "batch": {"micro": micro, "global": glob},
    }


@settings(max_examples=40, deadline=None)
@given(
    level=st.sampled_from(["nvlink", "inter_node"]),
    factor=st.floats(min_value=1.0, max_value=16.0),
    tp=st.sampled_from([1, 2, 4, 8]),
    pp=st.sampled_from([1, 2, 4]),
    dp=st.sampled_from([1, 2, 8]),
)
def test_more_bandwidth_never_slower(level: str, factor: float, tp: int, pp: int, dp: int) -> None:
    base_bw = {"nvlink": 300.0, "inter_node": 25.0}[level]
    glob = 32 * dp
    slow = api.evaluate(_spec("a100-80gb-dgx", tp, pp, dp, 1, glob))
    fast_hw = {
        "base": "a100-80gb-dgx",
        "overrides": {f"network.{level}.bandwidth_gbps": base_bw * factor},
    }
    fast = api.evaluate(_spec(fast_hw, tp, pp, dp, 1, glob))
    assert fast["iteration_time_s"] <= slow["iteration_time_s"] * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    tp=st.sampled_from([1, 2, 4, 8]),
    dp=st.sampled_from([1, 2, 4, 8]),
    mult=st.sampled_from([2, 4]),
)
def test_more_chips_at_fixed_work_never_slower_in_compute(tp: int, dp: int, mult: int) -> None:
    glob = 64
    few = api.evaluate(_spec("a100-80gb-dgx", tp, 1, dp, 1, glob))
    many = api.evaluate(_spec("a100-80gb-dgx", tp, 1, dp * mult, 1, glob))
    assert many["time_breakdown_s"]["compute"] <= few["time_breakdown_s"]["compute"] * (1 + 1e-12)


@settings(max_examples=25, deadline=None)
@given(factor=st.floats(min_value=1.0, max_value=10.0))
def test_more_mesh_bandwidth_never_slower_on_dojo(factor: float) -> None:
    spec = {"kind": "collective", "collective": {"op": "all-reduce", "bytes": 1e8}}
    slow = api.evaluate({**spec, "hardware": "dojo-system-tray"})
    fast = api.evaluate(
        {
            **spec,
            "hardware": {
                "base": "dojo-system-tray",
                "overrides": {"network.tray_mesh.bandwidth_gbps": 9000 * factor},
            },
        }
    )
    assert fast["time_s"] <= slow["time_s"] * (1 + 1e-12)
