"""Runner 0.3 additions to the model: two FLOP conventions and the A100 40 GB."""

from __future__ import annotations

from typing import Any

import pytest

from app.sim import api
from app.sim.hardware import resolve


def _llama(seq: int, hardware: str = "h100-80gb-dgx", **over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "llm-training",
        "hardware": hardware,
        "stack": "nemo",
        "model": {
            "layers": 32,
            "hidden": 4096,
            "heads": 32,
            "ffn_hidden": 11008,
            "seq_len": seq,
            "vocab": 32000,
            "mlp": "swiglu",
            "attention": "flash",
        },
        "parallelism": {"tp": 4, "cp": 2, "dp": 1, "sequence_parallel": True},
        "batch": {"micro": 1, "global": 8},
        "precision": "bf16",
        "recompute": "full",
    }
    spec.update(over)
    return spec


def test_both_flop_conventions_are_reported_and_differ_by_half_the_attention() -> None:
    for seq in (4096, 32768):
        res = api.evaluate(_llama(seq))
        full, causal = (
            res["model_tflops_per_accelerator"],
            res["model_tflops_per_accelerator_causal"],
        )
        # Forward attention scores and their product with V: 4 s^2 h per layer and sequence;
        # forward + backward x3; the causal count takes half of it.
        halved = 3 * 8 * 32 * 2 * seq * seq * 4096
        seconds, n = res["iteration_time_s"], res["num_accelerators"]
        assert (full - causal) * 1e12 * seconds * n == pytest.approx(halved, rel=1e-9)
        assert res["mfu_causal"] == pytest.approx(causal / full * res["mfu"], rel=1e-12)
    # At 32K tokens attention dominates: the conventions differ by far more than at 4K.
    long = api.evaluate(_llama(32768))
    short = api.evaluate(_llama(4096))
    assert long["mfu_causal"] / long["mfu"] < 0.8 < short["mfu_causal"] / short["mfu"]


def test_a_layout_that_does_not_fit_keeps_both_conventions_under_would_be() -> None:
    res = api.evaluate(_llama(4096, parallelism={"tp": 1, "dp": 1}, recompute="none"))
    assert res["fits"] is False and res["mfu_causal"] is None
    assert 0 < res["would_be"]["mfu_causal"] < res["would_be"]["mfu"]


def test_a100_40gb_is_the_80gb_chip_with_the_datasheet_hbm() -> None:
    small, big = resolve("a100-40gb-dgx"), resolve("a100-80gb-dgx")
    assert small.tiers[0].capacity == 40e9 and small.tiers[0].bandwidth == 1555e9
    assert big.tiers[0].capacity == 80e9 and big.tiers[0].bandwidth == 2039e9
    assert small.peak == big.peak and small.power_w_per_accel == big.power_w_per_accel
    gpt = {"layers": 48, "hidden": 6144, "heads": 48, "seq_len": 2048}
    spec = {
        "kind": "llm-training",
        "model": gpt,
        "parallelism": {"tp": 8, "pp": 1, "dp": 1},
        "batch": {"micro": 1, "global": 8},
        "precision": "bf16",
        "recompute": "full",
    }
    on_80 = api.evaluate({**spec, "hardware": "a100-80gb-dgx"})
    on_40 = api.evaluate({**spec, "hardware": "a100-40gb-dgx"})
    assert 40 < on_80["memory_per_accelerator_gb"]["total"] < 80
    assert on_80["fits"] and not on_40["fits"]
    # No recompute policy brings it under 40 GB: this model really exceeds the device.
    auto = {**spec, "hardware": "a100-40gb-dgx", "recompute": "auto"}
    assert api.evaluate(auto)["auto"]["fitting"] == 0


def test_fsd_split_mode_gives_the_range_of_frame_schedules() -> None:
    split = api.evaluate_scenario("fsd-hw3-8cam-split")
    redundant = api.evaluate_scenario("fsd-hw3-8cam-redundant")
    assert split["frame_schedule"] == "one frame at a time"
    low = split["speedup_over_redundant"]["one_frame_at_a_time"]
    high = split["speedup_over_redundant"]["pipelined"]
    assert low == pytest.approx(split["max_fps"] / redundant["max_fps"])
    assert 1.3 < low < high <= 2.0  # the chip link costs a third of 2x one frame at a time
    assert split["max_fps_pipelined"] > split["max_fps"]
    # On a slow link the pipelined rate is the link's: one frame's remote features per cycle.
    spec = api.load_scenario("fsd-hw3-8cam-split")["spec"]
    spec["hardware"] = {"base": "fsd-hw3", "overrides": {"network.chip_link.bandwidth_gbps": 0.05}}
    slow = api.evaluate(spec)
    feat = spec["network"]["feature_bytes"]
    link = resolve(spec["hardware"]).levels[1]
    busy = 4 * feat / (link.bandwidth * link.efficiency)  # 4 of 8 cameras cross the link
    assert slow["max_fps_pipelined"] == pytest.approx(1 / busy)
    assert slow["max_fps"] < slow["max_fps_pipelined"]
