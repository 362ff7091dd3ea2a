"""Hand-worked cases for context parallelism, uneven pipeline stages and fp8 memory.

The expected numbers are derived by hand in the comments, from the formulas documented in
docs/simulator.md, not read back from the code.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.sim import api
from app.sim.errors import SpecError
from app.sim.training import stage_layers

# A small GPT: 2 layers, h = 1024, 8 heads (MHA), ffn 4h = 4096, seq 2048, vocab 1000.
SMALL = {
    "layers": 2,
    "hidden": 1024,
    "heads": 8,
    "ffn_hidden": 4096,
    "seq_len": 2048,
    "vocab": 1000,
    "attention": "flash",
}


def _spec(par: dict[str, Any], batch: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "llm-training",
        "hardware": extra.pop("hardware", "h100-80gb-dgx"),
        "model": dict(SMALL),
        "parallelism": par,
        "batch": batch,
        "stack": extra.pop("stack", "nemo"),
        **extra,
    }


def _gb(res: dict[str, Any], key: str) -> float:
    return res["memory_per_accelerator_gb"][key] * 1e9


# ---- uneven pipeline stages ----


@pytest.mark.parametrize(
    ("layers", "pp", "v", "expected"),
    [
        # 96 / (8 x 2) divides: 12 layers on every rank, embedding and loss ride along.
        (96, 8, 2, (12, 12, 12)),
        # Llama 3.1 405B, pp8 x v8 = 64 virtual stages: 126 + embedding + loss = 128 units,
        # 2 per virtual stage, 16 per rank; the first rank gives one to the embedding and the
        # last one to the loss: 15 / 16 / 15.
        (126, 8, 8, (15, 16, 15)),
        # 30 on pp4: 32 units, 8 per rank: 7 (+embedding), 8, 8, 7 (+loss); 7+8+8+7 = 30.
        (30, 4, 1, (7, 8, 7)),
        # 5 on pp2: 7 units over 2 stages = 3 each plus one extra unit for stage 1 (the last):
        # first 3 - 1 = 2 layers, last 3 + 1 - 1 = 3 layers; no middle rank.
        (5, 2, 1, (2, 0, 3)),
    ],
)
def test_stage_layers_by_hand(layers: int, pp: int, v: int, expected: tuple[int, ...]) -> None:
    got = tuple(float(x) for x in stage_layers(layers, pp, v))
    assert got == tuple(float(x) for x in expected)


def test_uneven_layers_accepted_and_reported() -> None:
    spec = _spec({"pp": 4, "dp": 1}, {"micro": 1, "global": 8})
    spec["model"]["layers"] = 30
    res = api.evaluate(spec)
    assert res["stage_layers"] == {"first": 7.0, "busiest_middle": 8.0, "last": 7.0}
    assert res["fits"] and res["iteration_time_s"] > 0


# ---- context parallelism ----


def test_cp_splits_activations_by_hand() -> None:
    # tp1 pp1, micro 1, bf16, flash, no dropout (nemo stack), no recompute. Per layer, with
    # T = tokens on one CP rank and e = 2 bytes:
    #   not split by tp: 2 norm inputs (2+2) + QKV and FC1 inputs (2+2)   =  8 T h
    #   Q, K, V (3h x 2) + projection input (2)                             =  8 T h
    #   FC1 output (4h x 2) + FC2 input (4h x 2)                           = 16 T h
    #   total 32 T h; plus fp32 logits 4 T V on the (only) stage.
    # cp = 2: T = 1024, 32 x 1024 x 1024 x 2 layers = 67,108,864; logits 4 x 1024 x 1000
    # = 4,096,000; total 71,204,864 bytes. cp = 1 doubles T: 142,409,728.
    one = api.evaluate(_spec({"cp": 1}, {"micro": 1, "global": 1}))
    two = api.evaluate(_spec({"cp": 2}, {"micro": 1, "global": 1}))
    assert _gb(two, "activations") == pytest.approx(71_204_864, rel=1e-9)
    assert _gb(one, "activations") == pytest.approx(142_409_728, rel=1e-9)
    assert two["layout"]["cp"] == 2 and two["num_accelerators"] == 2


def test_cp_ring_exchange_by_hand() -> None:
    # Make compute free (huge peak and HBM bandwidth, no kernel overhead) and NVLink 1 GB/s
    # with no latency, so the KV ring is fully exposed. Per layer and CP step, each rank sends
    # its K and V block: 2 tensors x 2 bytes x T x h = 4 T h bytes; backward sends K, V and
    # their gradients, twice that. cp - 1 steps.
    # cp = 2: T = 1024, 4 x 1024 x 1024 = 4,194,304 B -> 4.194304 ms forward, 8.388608 ms
    #   backward, 1 step: 12.582912 ms per layer; 2 layers, 1 micro-batch: 25.165824 ms.
    # cp = 4: T = 512, 2,097,152 B -> 2.097152 + 4.194304 ms, 3 steps: 18.874368 ms per layer;
    #   2 layers: 37.748736 ms.
    hw = {
        "base": "h100-80gb-dgx",
        "overrides": {
            "compute.peak_tflops.bf16": 1e12,
            "memory.hbm.bandwidth_gbps": 1e12,
            "compute.matmul_efficiency.overhead_us": 0,
            "network.nvlink.bandwidth_gbps": 1,
            "network.nvlink.efficiency": 1,
            "network.nvlink.latency_us": 0,
        },
    }
    for cp, expected_ms in ((2, 25.165824), (4, 37.748736)):
        res = api.evaluate(_spec({"cp": cp}, {"micro": 1, "global": 1}, hardware=hw))
        assert res["time_breakdown_s"]["cp_comm"] * 1e3 == pytest.approx(expected_ms, rel=1e-6)


# ---- fp8 memory ----


def test_fp8_memory_by_hand() -> None:
    # Parameters on the only stage (tp1 pp1):
    #   layer: QKV 1024 x 3072 + 3072 = 3,148,800; proj 1024^2 + 1024 = 1,049,600;
    #          MLP 1024 x 4096 + 4096 + 4096 x 1024 + 1024 = 8,393,728; 2 norms 4 x 1024 = 4,096
    #          -> 12,596,224; 2 layers = 25,192,448
    #   embedding (1000 + 2048 positions) x 1024 = 3,121,152        -> P = 28,313,600
    # fp8 (Transformer Engine): bf16 weights + a cached fp8 copy = 3 B/param = 84,940,800;
    # gradients reduced in bf16 (nemo stack) 2 B = 56,627,200; Adam 12 B sharded over dp = 4
    # (distributed optimizer, zero 1) = 84,940,800. bf16: weights 2 B = 56,627,200.
    # Activations, micro 1, T = 2048: fp8 stores the inputs of the four linear layers in
    # 1 byte, so the per-layer count drops from 32 T h to 25 T h (QKV, FC1, projection
    # inputs 1 instead of 2, FC2 input 4h x 1 instead of 4h x 2):
    # 25 x 2048 x 1024 x 2 layers = 104,857,600 + logits 4 x 2048 x 1000 = 8,192,000
    # -> 113,049,600 bytes.
    par = {"dp": 4, "zero": 1}
    fp8 = api.evaluate(_spec(par, {"micro": 1, "global": 4}, precision="fp8"))
    bf16 = api.evaluate(_spec(par, {"micro": 1, "global": 4}, precision="bf16"))
    assert _gb(fp8, "weights") == pytest.approx(84_940_800, rel=1e-9)
    assert _gb(fp8, "gradients") == pytest.approx(56_627_200, rel=1e-9)
    assert _gb(fp8, "optimizer") == pytest.approx(84_940_800, rel=1e-9)
    assert _gb(fp8, "activations") == pytest.approx(113_049_600, rel=1e-9)
    assert _gb(bf16, "weights") == pytest.approx(56_627_200, rel=1e-9)
    # Megatron 2021-22 accumulates and reduces gradients in fp32: 4 B/param.
    old = api.evaluate(
        _spec(par, {"micro": 1, "global": 4}, precision="fp8", stack="megatron-2021")
    )
    assert _gb(old, "gradients") == pytest.approx(113_254_400, rel=1e-9)


def test_zero2_and_hsdp_sharding() -> None:
    # ZeRO-2 shards gradients and optimizer over dp = 4; HSDP with shard_group 2 of dp 8
    # shards over 2 ranks only (4 replicas).
    z2 = api.evaluate(_spec({"dp": 4, "zero": 2}, {"micro": 1, "global": 4}))
    assert _gb(z2, "gradients") == pytest.approx(56_627_200 / 4, rel=1e-9)
    assert _gb(z2, "optimizer") == pytest.approx(28_313_600 * 12 / 4, rel=1e-9)
    hsdp = api.evaluate(
        _spec({"dp": 8, "zero": 3, "shard_group": 2}, {"micro": 1, "global": 8}, stack="fsdp")
    )
    assert _gb(hsdp, "optimizer") == pytest.approx(28_313_600 * 12 / 2, rel=1e-9)


# ---- what a result says ----


def test_stack_defaults_are_named_in_the_result() -> None:
    res = api.evaluate(_spec({"dp": 2}, {"micro": 1, "global": 2}))
    assert res["schedule"]["stack"] == "nemo"
    assert set(res["schedule"]["from_stack_default"]) == {
        "dp_overlap",
        "param_gather_overlap",
        "tp_overlap",
    }
    assert res["layout"]["dp_overlap"] and res["layout"]["param_gather_overlap"]
    explicit = api.evaluate(_spec({"dp": 2, "dp_overlap": False}, {"micro": 1, "global": 2}))
    assert "dp_overlap" not in explicit["schedule"]["from_stack_default"]
    assert not explicit["layout"]["dp_overlap"]


def test_layout_that_does_not_fit_reports_no_timing() -> None:
    spec = {
        "kind": "llm-training",
        "hardware": "h100-80gb-dgx",
        "model": {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048},
        "batch": {"micro": 1, "global": 1},
    }
    res = api.evaluate(spec)
    assert res["fits"] is False
    for key in ("iteration_time_s", "tokens_per_s", "mfu", "sustained_pflops"):
        assert res[key] is None
    assert res["would_be"]["iteration_time_s"] > 0


def test_scaling_points_that_do_not_fit_report_no_timing() -> None:
    """A weak-scaling point that does not fit is not presented as if it had run."""
    spec = {
        "kind": "llm-scaling",
        "hardware": "dojo-training-tile",
        "model": {"layers": 48, "hidden": 4096, "heads": 32, "seq_len": 2048},
        "chips": {"start": 1, "stop": 4},
        "batch": {"per_chip_global": 8},
    }
    res = api.evaluate(spec)
    assert res["fits"] is False and res["chart"] == []
    for point in res["points"]:
        assert point["fits"] is False and point["peak_pflops"] > 0
        for key in ("tokens_per_s", "efficiency", "iteration_time_s", "sustained_pflops"):
            assert point[key] is None
            assert point["would_be"][key] > 0
    field = "points[-1].sustained_pflops"
    compare = [{"claim": "tile-peak-bf16-9-pflops", "field": field, "relation": "info"}]
    with pytest.raises(SpecError, match="not a finite number"):
        api.evaluate({**spec, "compare": compare})
    fitting = api.evaluate(
        {**spec, "model": {"layers": 6, "hidden": 192, "heads": 3, "seq_len": 1024, "vocab": 50257}}
    )
    assert fitting["fits"] is True and len(fitting["chart"]) == 4
    assert all("would_be" not in point for point in fitting["points"])


def test_fsd_split_pays_for_the_chip_link() -> None:
    red = api.evaluate_scenario("fsd-hw3-8cam-redundant")
    split = api.evaluate_scenario("fsd-hw3-8cam-split")
    # The exchange precedes the heads, so the frame rate is 1 / (frame latency).
    assert split["max_fps"] == pytest.approx(1e3 / split["frame_latency_ms"], rel=1e-9)
    assert 1.0 < split["max_fps"] / red["max_fps"] < 2.0
