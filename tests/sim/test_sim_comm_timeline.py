"""Runner 0.4: collectives as NCCL runs them, the data-parallel timeline, P2P overlap."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from app.sim import api
from app.sim.collectives import ALGORITHMS, RING_BASE_S, group_collective, nccl_algorithms
from app.sim.hardware import resolve


def test_a_full_node_ring_runs_at_the_measured_nic_bus_bandwidth() -> None:
    # nccl-tests on DGX A100 (8 x 200 Gb/s): ~192 GB/s all-reduce bus bandwidth, not the
    # sum of an NVLink phase and a network phase.
    system = resolve("a100-80gb-dgx")
    size = 8e9
    ring = nccl_algorithms(system, "all-reduce", size, 1, 64)[ALGORITHMS.index("ring")]
    n = 64
    bus = 2 * (n - 1) / n * size / float(ring) / 1e9
    assert bus == pytest.approx(8 * 25 * 0.96, rel=0.02)  # latency aside


def test_one_gpu_per_node_is_limited_by_its_own_nic() -> None:
    system = resolve("h100-80gb-dgx")
    ring = nccl_algorithms(system, "reduce-scatter", 1e9, 8, 16)[ALGORITHMS.index("ring")]
    bw = 50e9 * 0.94
    assert float(ring) == pytest.approx(
        (16 - 1) / 16 * 1e9 / bw + RING_BASE_S + 15 * 9.6e-6, rel=1e-9
    )


def test_nccl_picks_the_tree_only_where_the_ring_latency_dominates() -> None:
    system = resolve("h100-80gb-dgx")
    counts = np.array([16.0, 10000.0])
    times = nccl_algorithms(system, "all-reduce", 64e6, 8, counts)
    ring, tree = times[ALGORITHMS.index("ring")], times[ALGORITHMS.index("tree")]
    # Two nodes' worth of ranks: ring; 10,000 ranks: the ring's 2 (n-1) latency steps lose.
    assert ring[0] < tree[0]
    assert tree[1] < ring[1]
    best = group_collective(system, "all-reduce", 64e6, 8, counts)
    assert np.allclose(best, times.min(axis=0))
    # Reduce-scatter and all-gather have no tree.
    tree_rs = nccl_algorithms(system, "reduce-scatter", 64e6, 8, counts)[ALGORITHMS.index("tree")]
    assert np.all(np.isinf(tree_rs))


def test_meshes_keep_the_hierarchical_algorithm() -> None:
    system = resolve("dojo-system-tray")
    assert not all(lv.topology == "switch" for lv in system.levels)
    t = float(group_collective(system, "all-reduce", 1e9, 1, 150))
    assert math.isfinite(t) and t > 0


def _gpt(v: int, stack: str = "megatron-core", **par: Any) -> dict[str, Any]:
    return {
        "kind": "llm-training",
        "hardware": "h100-80gb-dgx",
        "stack": stack,
        "model": {
            "layers": 48,
            "hidden": 6144,
            "heads": 48,
            "ffn_hidden": 24576,
            "seq_len": 2048,
            "vocab": 51200,
            "attention": "flash",
        },
        "parallelism": {
            "tp": 8,
            "pp": 4,
            "dp": 64,
            "interleave": v,
            "sequence_parallel": True,
            "zero": 1,
            **par,
        },
        "batch": {"micro": 1, "global": 512},
        "precision": "bf16",
    }


def test_interleaving_gives_gradient_reduction_the_cool_down_to_hide_in() -> None:
    # v chunks per rank: chunk j's gradients are ready j x pp chunk-backwards before the end,
    # so more chunks expose less of the same reduce-scatter.
    one = api.evaluate(_gpt(1))
    four = api.evaluate(_gpt(4))
    assert four["time_breakdown_s"]["dp_comm"] < 0.75 * one["time_breakdown_s"]["dp_comm"]
    # Without the overlap the whole reduce-scatter and all-gather are exposed either way.
    off = {"dp_overlap": False, "param_gather_overlap": False}
    assert (
        api.evaluate(_gpt(4, **off))["time_breakdown_s"]["dp_comm"]
        > (four["time_breakdown_s"]["dp_comm"])
    )


def test_megatron_core_overlaps_interleaved_p2p_and_megatron_2021_does_not() -> None:
    core = api.evaluate(_gpt(4))["time_breakdown_s"]["pp_comm"]
    old = api.evaluate(_gpt(4, stack="megatron-2021"))["time_breakdown_s"]["pp_comm"]
    assert core < 0.5 * old


def test_communication_hidden_under_compute_still_slows_it() -> None:
    # NeMo hides TP communication under the GEMMs (userbuffers); the kernels doing it take
    # SMs, so the hidden time costs ``overlap_slowdown`` of itself.
    spec = _gpt(4, stack="nemo")
    hw = "h100-80gb-dgx"
    tp = []
    for slowdown in (0.0, 0.2):
        spec["hardware"] = {"base": hw, "overrides": {"compute.overlap_slowdown": slowdown}}
        tp.append(api.evaluate(spec)["time_breakdown_s"]["tp_comm"])
    assert tp[0] == 0.0 < tp[1]
