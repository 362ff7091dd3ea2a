"""Runner 0.5: NVLS (NVLink SHARP), NVLS-tree and in-network SHARP, chosen as NCCL's tuner does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.sim import api
from app.sim.collectives import ALGORITHMS, collective_choice, nccl_algorithms
from app.sim.errors import SpecError
from app.sim.hardware import resolve

H100 = "h100-80gb-dgx"
SHARP_ON = {"base": H100, "overrides": {"network.inter_node.sharp": 1}}


def _chosen(hardware: Any, kind: str, size: float, stride: float, count: float) -> str:
    _, best = collective_choice(resolve(hardware), kind, size, stride, count)
    return ALGORITHMS[int(best)]


def _bus_gbps(hardware: Any, size: float, count: int) -> float:
    t, _ = collective_choice(resolve(hardware), "all-reduce", size, 1, count)
    return 2 * (count - 1) / count * size / float(t) / 1e9


def test_a_full_dgx_h100_all_reduce_runs_as_nvls_at_the_measured_bus_bandwidth() -> None:
    # nccl-tests on 8 x H100 SXM: ~480 GB/s bus bandwidth with NVLS (algorithm ~275 GB/s),
    # ~370 GB/s with the ring (NVIDIA/nccl-tests#212, NVIDIA/nccl#1455).
    assert _chosen(H100, "all-reduce", 8e9, 1, 8) == "nvls"
    assert _bus_gbps(H100, 8e9, 8) == pytest.approx(480, rel=0.02)
    ring = nccl_algorithms(resolve(H100), "all-reduce", 8e9, 1, 8)[ALGORITHMS.index("ring")]
    assert 2 * 7 / 8 * 8e9 / float(ring) / 1e9 == pytest.approx(370, rel=0.01)


def test_two_gpus_keep_the_ring_and_so_do_gathers_and_scatters() -> None:
    # Two GPUs: the ring moves the buffer once each way at the full link rate, NVLS no faster.
    assert _chosen(H100, "all-reduce", 1e9, 1, 2) == "ring"
    for kind in ("reduce-scatter", "all-gather"):
        assert _chosen(H100, kind, 1e9, 1, 8) == "ring"


def test_nvls_needs_a_switch_that_reduces() -> None:
    assert _chosen("a100-80gb-dgx", "all-reduce", 8e9, 1, 8) == "ring"
    times = nccl_algorithms(resolve("a100-80gb-dgx"), "all-reduce", 8e9, 1, 64)
    for name in ("nvls", "nvls-tree", "sharp"):
        assert np.isinf(times[ALGORITHMS.index(name)])


def test_across_nodes_nvls_tree_beats_the_ring_at_scale_at_the_nics_rate() -> None:
    system = resolve(H100)
    counts = np.array([16.0, 128.0, 8192.0])
    times = nccl_algorithms(system, "all-reduce", 1e9, 1, counts)
    nvls_tree = times[ALGORITHMS.index("nvls-tree")]
    ring = times[ALGORITHMS.index("ring")]
    assert np.all(nvls_tree < ring)
    # Beyond two nodes each node's sum goes up and down the tree through its 8 NICs: half of
    # 8 x 47 GB/s, i.e. ~375 GB/s bus bandwidth (NVIDIA/nccl#1649: GTC 2024, 370-380 GB/s).
    n = 128
    bus = 2 * (n - 1) / n * 1e9 / float(nvls_tree[1]) / 1e9
    assert bus == pytest.approx(8 * 50 * 0.94 / 2 * 2 * (n - 1) / n, rel=0.03)
    # Its latency grows with log2(nodes) (NCCL 2.21: 25 us + 2 log2(nodes) x 14 us), the
    # ring's with the ranks.
    empty = nccl_algorithms(system, "all-reduce", 0.0, 1, counts)
    nodes = counts / 8
    assert np.allclose(empty[ALGORITHMS.index("nvls-tree")], 25e-6 + 2 * np.log2(nodes) * 14e-6)
    assert empty[ALGORITHMS.index("ring")][2] > 50 * empty[ALGORITHMS.index("ring")][1]


def test_sharp_is_off_unless_the_fabric_says_so() -> None:
    assert _chosen(H100, "all-reduce", 1e9, 1, 128) != "sharp"
    assert _chosen(SHARP_ON, "all-reduce", 1e9, 1, 128) == "sharp"
    # The network carries each node's sum once each way: NVLS inside the node now limits.
    bus = _bus_gbps(SHARP_ON, 8e9, 128)
    assert bus == pytest.approx(450 * 0.61 * 2 * 127 / 128, rel=0.02)
    assert bus > 1.3 * _bus_gbps(H100, 8e9, 128)
    # One GPU per node (a data-parallel group of stride 8): the NIC alone, once each way.
    t, best = collective_choice(resolve(SHARP_ON), "all-reduce", 1e9, 8, 64)
    assert ALGORITHMS[int(best)] == "sharp"
    assert float(t) == pytest.approx(18e-6 + 1e9 / (50e9 * 0.94), rel=1e-6)


def test_sharp_gathers_and_scatters_in_one_pass_with_the_rings_bytes() -> None:
    # A data-parallel reduce-scatter over 4,096 nodes, one GPU per node: the ring's 4,095
    # network steps against one pass through the switches.
    ring_off = collective_choice(resolve(H100), "reduce-scatter", 1e8, 8, 4096)
    t, best = collective_choice(resolve(SHARP_ON), "reduce-scatter", 1e8, 8, 4096)
    assert ALGORITHMS[int(best)] == "sharp"
    assert float(t) == pytest.approx(18e-6 + 4095 / 4096 * 1e8 / (50e9 * 0.94), rel=1e-9)
    assert float(ring_off[0]) - float(t) > 4000 * 9.6e-6


@pytest.mark.parametrize(
    ("path", "value"), [("network.inter_node.sharp", 2), ("network.nvlink.nvls_efficiency", 1.5)]
)
def test_bad_nvls_and_sharp_overrides_are_refused(path: str, value: float) -> None:
    spec = {
        "kind": "collective",
        "hardware": {"base": H100, "overrides": {path: value}},
        "collective": {"op": "all-reduce", "bytes": 1e9, "participants": 8},
    }
    with pytest.raises(SpecError) as err:
        api.evaluate(spec)
    assert err.value.field == f"hardware.overrides.{path}"


def test_the_collective_workload_names_the_algorithm() -> None:
    spec = {
        "kind": "collective",
        "hardware": H100,
        "collective": {"op": "all-reduce", "bytes": 8e9, "participants": 8},
    }
    r = api.evaluate(spec)
    assert r["steps"][0]["topology"] == "nccl nvls"
    assert r["bus_bandwidth_gbps"] == pytest.approx(480, rel=0.02)


def _training(hardware: str, tp: int, precision: str = "fp8") -> dict[str, Any]:
    return {
        "kind": "llm-training",
        "hardware": hardware,
        "stack": "nemo",
        "precision": precision,
        "model": {
            "layers": 32,
            "hidden": 4096,
            "heads": 32,
            "ffn_hidden": 16384,
            "seq_len": 2048,
            "vocab": 51200,
            "attention": "flash",
        },
        "parallelism": {"tp": tp, "pp": 1, "dp": 16, "sequence_parallel": tp > 1, "zero": 1},
        "batch": {"micro": 1, "global": 64},
    }


def test_a_training_run_reports_each_collectives_algorithm() -> None:
    r = api.evaluate(_training(H100, 8))
    assert r["collective_algorithms"] == {
        "tp": "nvls",
        "dp_grad": "ring",
        "dp_param": "ring",
        "fp8_amax": "nvls-tree",
    }
    r = api.evaluate(_training("a100-80gb-dgx", 1, "bf16"))
    assert r["collective_algorithms"]["tp"] == "none"
    assert r["collective_algorithms"]["fp8_amax"] == "none"
    assert r["collective_algorithms"]["dp_grad"] == "ring"


def test_nvls_shortens_an_h100_tensor_parallel_step() -> None:
    off = {"base": H100, "overrides": {"network.nvlink.nvls_efficiency": 0}}
    spec = _training(H100, 8)
    spec["stack"] = "megatron-core"  # TP traffic exposed, so its speed shows in the step
    with_nvls = api.evaluate(spec)
    without = api.evaluate({**spec, "hardware": off})
    assert without["collective_algorithms"]["tp"] == "ring"
    ratio = with_nvls["time_breakdown_s"]["tp_comm"] / without["time_breakdown_s"]["tp_comm"]
    # Each all-reduce: NVLS 25 us + S / 274.5 GB/s against the ring's 8.4 us + 14 x 3.4 us +
    # (14 / 8) S / 369 GB/s, for S = 2,048 tokens x 4,096 x 2 bytes.
    size = 2048 * 4096 * 2
    nvls = 25e-6 + size / (450e9 * 0.61)
    ring = 8.4e-6 + 14 * 3.4e-6 + 14 / 8 * size / (450e9 * 0.82)
    assert ratio == pytest.approx(nvls / ring, rel=1e-6)
