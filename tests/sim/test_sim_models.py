"""Hand-computed checks of the simulator's models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.sim import api
from app.sim.collectives import RING_BASE_S, ring_time
from app.sim.errors import SpecError
from app.sim.hardware import library, resolve
from app.sim.parse import parse_one
from app.sim.training import core, model_params

GPT3 = {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048, "vocab": 51200}


def test_gemm_roofline_compute_bound() -> None:
    sys_ = resolve("a100-80gb-dgx")
    r = api.evaluate(
        {
            "kind": "gemm",
            "hardware": "a100-80gb-dgx",
            "precision": "bf16",
            "gemm": {"m": 8192, "n": 8192, "k": 8192},
        }
    )
    flops = 2 * 8192**3
    assert r["flops"] == flops
    assert r["bytes"] == 2 * 3 * 8192**2
    assert r["bound"] == "compute"
    assert r["roofline_time_s"] == pytest.approx(flops / 312e12)
    expected = flops / (312e12 * sys_.matmul_eff_max) + sys_.matmul_overhead_s
    assert r["time_s"] == pytest.approx(expected)


def test_gemm_roofline_memory_bound() -> None:
    r = api.evaluate(
        {
            "kind": "gemm",
            "hardware": "a100-80gb-dgx",
            "precision": "bf16",
            "gemm": {"m": 8192, "n": 1, "k": 8192},
        }
    )
    assert r["bound"] == "memory"
    assert r["roofline_time_s"] == pytest.approx(r["bytes"] / 2039e9)


def test_ring_allreduce_formula() -> None:
    n, size, bw, lat = 8, 1e9, 100e9, 5e-6
    assert float(ring_time(n, size, bw, lat)) == pytest.approx(
        2 * (n - 1) / n * size / bw + 2 * (n - 1) * lat
    )
    assert float(ring_time(1, size, bw, lat)) == 0.0


def test_collective_on_nvlink_matches_ring() -> None:
    sys_ = resolve("a100-80gb-dgx")
    nv = sys_.levels[0]
    r = api.evaluate(
        {
            "kind": "collective",
            "hardware": "a100-80gb-dgx",
            "collective": {"op": "all-reduce", "bytes": 1e9, "participants": 8},
        }
    )
    bw = nv.bandwidth * nv.efficiency
    # NCCL's ring on one node: its base latency plus one step latency per ring step.
    assert r["time_s"] == pytest.approx(RING_BASE_S + 2 * 7 / 8 * 1e9 / bw + 14 * nv.latency)
    assert r["steps"][0]["topology"] == "nccl ring"
    hier = api.evaluate(
        {
            "kind": "collective",
            "hardware": "a100-80gb-dgx",
            "collective": {
                "op": "all-reduce",
                "bytes": 1e9,
                "participants": 8,
                "algorithm": "hierarchical",
            },
        }
    )
    assert hier["time_s"] == pytest.approx(2 * 7 / 8 * 1e9 / bw + 14 * nv.latency)
    ag = api.evaluate(
        {
            "kind": "collective",
            "hardware": "a100-80gb-dgx",
            "collective": {"op": "all-gather", "bytes": 1e9, "participants": 8},
        }
    )
    # Half the steps and the bytes; the base latency is paid once either way.
    assert ag["time_s"] == pytest.approx((r["time_s"] - RING_BASE_S) / 2 + RING_BASE_S)


def test_mesh2d_allreduce_is_two_rings() -> None:
    sys_ = resolve("dojo-training-tile")
    lv = sys_.levels[0]
    r = api.evaluate(
        {
            "kind": "collective",
            "hardware": "dojo-training-tile",
            "collective": {"op": "all-reduce", "bytes": 1e9},
        }
    )
    bw = lv.bandwidth * lv.efficiency
    expected = float(ring_time(5, 1e9, bw, lv.latency) + ring_time(5, 1e9 / 5, bw, lv.latency))
    assert r["time_s"] == pytest.approx(expected)


def _small(**lay: object) -> tuple[dict, dict]:
    spec = {
        "kind": "llm-training",
        "hardware": "a100-80gb-dgx",
        "model": {"layers": 4, "hidden": 1024, "heads": 16, "seq_len": 512, "vocab": 1000},
        "parallelism": {"tp": 1, "pp": 1, "dp": 1},
        "batch": {"micro": 1, "global": 1},
        "precision": "bf16",
        "recompute": "none",
    }
    spec["parallelism"].update(lay)
    return spec, api.evaluate(spec)


def test_memory_footprint_by_hand() -> None:
    _, r = _small()
    h, L, V, s = 1024, 4, 1000, 512
    per_layer = 12 * h * h + 13 * h  # weights + biases + 2 layer norms
    params = L * per_layer + V * h + s * h
    assert r["parameters_b"] * 1e9 == pytest.approx(params)
    mem = r["memory_per_accelerator_gb"]
    assert mem["weights"] * 1e9 == pytest.approx(2 * params)
    assert mem["gradients"] * 1e9 == pytest.approx(4 * params)  # bf16 grads kept in fp32
    assert mem["optimizer"] * 1e9 == pytest.approx(12 * params)
    # Korthikanti et al.: s*b*h*(34 + 5*a*s/h) bytes per layer, no parallelism, no recompute.
    act_layer = s * h * (34 + 5 * 16 * s / h)
    assert mem["activations"] * 1e9 == pytest.approx(L * act_layer + 4 * s * V)


def test_zero1_shards_optimizer() -> None:
    spec, _ = _small()
    spec["parallelism"]["dp"] = 2
    spec["batch"]["global"] = 2
    r0 = api.evaluate(spec)
    spec["parallelism"]["zero"] = 1
    r1 = api.evaluate(spec)
    assert r1["memory_per_accelerator_gb"]["optimizer"] == pytest.approx(
        r0["memory_per_accelerator_gb"]["optimizer"] / 2
    )


def test_pipeline_bubble_fraction() -> None:
    sys_ = resolve("a100-80gb-dgx")
    spec = {
        "kind": "llm-training",
        "hardware": "a100-80gb-dgx",
        "model": dict(GPT3),
        "parallelism": {"tp": 8, "pp": 8, "dp": 1, "interleave": 3, "sequence_parallel": True},
        "batch": {"micro": 1, "global": 64},
        "precision": "fp16",
        "recompute": "selective",
    }
    sys_, model, lay, precision = parse_one(spec)
    r = core(sys_, model, lay, precision)
    m, p, v = 64, 8, 3
    # bubble = (p-1)/v stage-times; per-micro-batch work is m stage-times.
    stage = float((r["compute_s"] + r["tp_comm_s"])[0]) / m
    assert float(r["bubble_s"][0]) / (m * stage) == pytest.approx((p - 1) / (m * v), rel=0.05)


def test_eq3_flops_match_narayanan() -> None:
    sys_ = resolve("a100-80gb-dgx")
    spec = {
        "hardware": "a100-80gb-dgx",
        "model": dict(GPT3),
        "parallelism": {"tp": 8, "pp": 8, "dp": 1},
        "batch": {"micro": 1, "global": 8},
        "recompute": "full",
    }
    sys_, model, lay, _ = parse_one(spec)
    r = core(sys_, model, lay, "fp16")
    B, s, L, h, V = 8, 2048, 96, 12288, 51200
    eq3 = 96 * B * s * L * h * h * (1 + s / (6 * h) + V / (16 * L * h))
    assert float(r["eq3_flops"][0]) == pytest.approx(eq3, rel=1e-6)
    assert float(r["hardware_flops"][0]) == pytest.approx(eq3, rel=1e-6)


def test_gpt3_param_count() -> None:
    assert float(
        model_params({**GPT3, "kv_heads": 96, "ffn_hidden": 4 * 12288, "gated": False})
    ) / 1e9 == pytest.approx(174.6, abs=0.2)


def test_exapod_composed_from_parts() -> None:
    s = resolve("dojo-exapod")
    assert s.n_accel == 3000
    assert s.peak["bf16"] == pytest.approx(354 * 1.024e12 * 1.0, rel=1e-9)
    names = [t.name for t in s.tiers]
    assert names == ["sram", "dip_hbm"]
    hbm = s.tiers[1]
    assert hbm.capacity * 3000 == pytest.approx(400 * 32e9)
    assert hbm.bandwidth < s.tiers[0].bandwidth / 100
    assert "dip_hbm" not in [t.name for t in resolve("dojo-d1").tiers]


def _numbers_have_sources(node: object, path: str) -> list[str]:
    bad: list[str] = []
    if isinstance(node, dict):
        if "value" in node:
            if not node.get("source"):
                bad.append(path)
            return bad
        for k, v in node.items():
            if k in ("count",) and "source" in node:
                continue
            bad += _numbers_have_sources(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            bad += _numbers_have_sources(v, f"{path}[{i}]")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        bad.append(path)
    return bad


def test_every_hardware_number_has_a_source() -> None:
    bad = []
    for hid, doc in library().items():
        for key in ("compute", "memory", "network", "power", "io", "links", "internal_network"):
            if key in doc:
                bad += _numbers_have_sources(doc[key], f"{hid}.{key}")
    assert bad == []


def test_hardware_library_reads_as_the_pure_python_loader_reads_it() -> None:
    import yaml

    from app.sim.paths import seed_dir

    pure = {}
    for path in sorted((seed_dir() / "hardware").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        pure[str(doc["id"])] = doc
    assert library() == pure


def test_override_and_unknown_path() -> None:
    fast = resolve(
        {"base": "a100-80gb-dgx", "overrides": {"network.inter_node.bandwidth_gbps": 800}}
    )
    assert fast.levels[1].bandwidth == 800e9
    with pytest.raises(SpecError) as exc:
        resolve({"base": "a100-80gb-dgx", "overrides": {"network.ib.bandwidth_gbps": 1}})
    assert exc.value.field == "hardware.overrides.network.ib.bandwidth_gbps"


def test_inference_redundant_vs_split() -> None:
    red = api.evaluate(api.load_scenario("fsd-hw3-8cam-redundant"))
    spl = api.evaluate(api.load_scenario("fsd-hw3-8cam-split"))
    assert red["redundancy_kept"] is red["meets_target"]
    assert spl["redundancy_kept"] is False
    assert spl["max_fps"] > red["max_fps"]
    assert spl["max_macs_per_frame_at_target"] > red["max_macs_per_frame_at_target"]
    assert red["headroom"] == pytest.approx(red["max_fps"] / 36 - 1)


def test_consistency_flags_contradiction() -> None:
    r = api.evaluate(
        {
            "kind": "consistency",
            "claims": [
                {"slug": "d1-peak-bf16-362-tflops", "value": 362, "unit": "TFLOPS"},
                {"slug": "exapod-peak-1-1-eflops", "value": 2.0, "unit": "EFLOPS"},
            ],
        }
    )
    verdicts = {c["slug"]: c["verdict"] for c in r["checks"] if c["verdict"] != "no-claim"}
    assert verdicts == {
        "d1-peak-bf16-362-tflops": "consistent",
        "exapod-peak-1-1-eflops": "contradicts",
    }
    with pytest.raises(SpecError) as exc:
        api.evaluate(
            {
                "kind": "consistency",
                "claims": [{"slug": "d1-sram-440-mb", "value": 1, "unit": "parsecs"}],
            }
        )
    assert exc.value.field == "claims[0].unit"


def test_evaluate_many_isolates_errors_and_is_deterministic() -> None:
    good = api.load_scenario("dojo-node-gemm")
    bad = {
        "kind": "llm-training",
        "hardware": "a100-80gb-dgx",
        "model": {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048},
        "parallelism": {"tp": 7},
    }
    unknown = {"kind": "teleport"}
    out = api.evaluate_many([good, bad, unknown, good])
    assert "error" not in out[0]
    assert "parallelism.tp" in out[1]["error"]
    assert "kind" in out[2]["error"]
    assert out[0] == out[3]


def test_fp8_needs_hardware_support() -> None:
    with pytest.raises(SpecError) as exc:
        api.evaluate(
            {
                "kind": "llm-training",
                "hardware": "a100-80gb-dgx",
                "model": {"layers": 2, "hidden": 256, "heads": 4, "seq_len": 128},
                "precision": "fp8",
            }
        )
    assert exc.value.field == "precision"


def test_every_scenario_runs_and_capabilities_covered() -> None:
    caps = set()
    for sc in api.list_scenarios():
        res = api.evaluate(api.load_scenario(sc["id"]))
        assert "error" not in res
        assert sc["claims"]
        caps.update(sc["capabilities"])
    assert caps >= {
        "dojo-d1",
        "dojo-training-node",
        "dojo-training-tile",
        "dojo-system-tray",
        "dojo-cabinet",
        "dojo-exapod",
        "dojo-interface-processor",
        "fsd-computer-hw3",
        "tesla-gpu-cluster",
    }


def test_tile_scaling_chart() -> None:
    r = api.evaluate(api.load_scenario("tile-gpt-scaling"))
    chart = r["chart"]
    assert [p["chips"] for p in chart] == list(range(1, 26))
    assert chart[0]["efficiency"] == pytest.approx(1.0)
    assert all(0 < p["efficiency"] <= 1.0 + 1e-9 for p in chart)


def test_exapod_sustained_below_peak() -> None:
    r = api.evaluate(api.load_scenario("exapod-gpt3-175b"))
    assert r["fits"]
    assert 0 < r["sustained_pflops"] < r["system_peak_pflops"]
    assert math.isclose(r["system_peak_pflops"], 3000 * 362.496 / 1000, rel_tol=1e-9)
    assert np.isfinite(r["iteration_time_s"])
