"""Single-kernel workloads: GEMM on the roofline and one collective on the network."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.sim.collectives import (
    _FACTOR,
    ALGORITHMS,
    collective_choice,
    group_members,
    level_time,
    ring_time,
)
from app.sim.errors import SpecError
from app.sim.hardware import resolve
from app.sim.spec import choice, num, section

DTYPE_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}


def evaluate_gemm(spec: dict[str, Any]) -> dict[str, Any]:
    """Return roofline time, achieved throughput, utilisation and bound of one GEMM."""
    system = resolve(spec.get("hardware"))
    g = section(spec, "gemm") or spec
    m = num(g, "m", "gemm.", integer=True, minimum=1)
    n = num(g, "n", "gemm.", integer=True, minimum=1)
    k = num(g, "k", "gemm.", integer=True, minimum=1)
    batch = num(g, "batch", "gemm.", 1, integer=True, minimum=1)
    dtype = choice(spec, "precision", "", tuple(DTYPE_BYTES), "bf16")
    if dtype not in system.peak:
        raise SpecError("precision", f"{dtype} is not supported by {system.accelerator}")
    tier_name = g.get("memory_tier", system.tiers[0].name)
    tier = next((t for t in system.tiers if t.name == tier_name), None)
    if tier is None:
        raise SpecError("gemm.memory_tier", f"unknown tier {tier_name!r}")
    eb = DTYPE_BYTES[dtype]
    flops = 2.0 * m * n * k * batch
    byts = batch * eb * (m * k + k * n + m * n)
    peak = system.peak[dtype]
    t_compute = flops / peak
    t_memory = byts / tier.bandwidth
    ridge = peak / tier.bandwidth
    intensity = flops / byts
    # Ideal roofline first, then the calibrated efficiencies and per-kernel overhead.
    t_ideal = max(t_compute, t_memory)
    t = max(flops / (peak * system.matmul_eff_max), byts / (tier.bandwidth * tier.efficiency))
    t += system.matmul_overhead_s
    return {
        "kind": "gemm",
        "hardware": system.id,
        "accelerator": system.accelerator,
        "flops": flops,
        "bytes": byts,
        "arithmetic_intensity": intensity,
        "ridge_point": ridge,
        "bound": "compute" if intensity >= ridge else "memory",
        "roofline_time_s": t_ideal,
        "time_s": t,
        "achieved_tflops": flops / t / 1e12,
        "utilisation": flops / t / peak,
        "memory_tier": tier.name,
        "peak_tflops": peak / 1e12,
        "memory_bandwidth_gbps": tier.bandwidth / 1e9,
        "memory_capacity_gb": tier.capacity / 1e9 if math.isfinite(tier.capacity) else None,
        "achieved_bandwidth_gbps": byts / t / 1e9,
    }


CHOICES = ("auto", "hierarchical", "ring", "mesh2d")


def evaluate_collective(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the time of one all-reduce / all-gather / reduce-scatter."""
    system = resolve(spec.get("hardware"))
    c = section(spec, "collective") or spec
    op = choice(c, "op", "collective.", tuple(_FACTOR), "all-reduce")
    size = num(c, "bytes", "collective.", minimum=0)
    n_default = system.n_accel if math.isfinite(system.n_accel) else None
    n = num(c, "participants", "collective.", n_default, integer=True, minimum=1)
    if n is None:
        raise SpecError("collective.participants", "is required on an unbounded cluster")
    if n > system.n_accel:
        raise SpecError(
            "collective.participants", f"{n} exceeds {int(system.n_accel)} accelerators"
        )
    algo = choice(c, "algorithm", "collective.", CHOICES, "auto")
    factor = _FACTOR[op]
    members = group_members(system, 1, n)
    steps: list[dict[str, Any]] = []
    if algo == "ring":
        # One flat ring over all participants, limited by the slowest level it crosses.
        used = [lv for lv, m in zip(system.levels, members, strict=True) if float(m) > 1]
        bw = min((lv.bandwidth * lv.efficiency for lv in used), default=math.inf)
        lat = max((lv.latency for lv in used), default=0.0)
        total = float(ring_time(n, size, bw, lat, factor)) if used else 0.0
        steps.append(
            {
                "level": "+".join(lv.name for lv in used),
                "topology": "ring",
                "participants": n,
                "bytes": size,
                "time_s": total,
            }
        )
    elif algo == "auto" and system.levels and all(lv.topology == "switch" for lv in system.levels):
        # Switched GPU fabrics: the algorithm NCCL predicts fastest (ring, tree, NVLS, ...).
        t_best, best = collective_choice(system, op, size, 1, n)
        used = [lv for lv, m in zip(system.levels, members, strict=True) if float(m) > 1]
        total = float(t_best) if n > 1 else 0.0
        steps.append(
            {
                "level": "+".join(lv.name for lv in used),
                "topology": f"nccl {ALGORITHMS[int(best)]}",
                "participants": n,
                "bytes": size,
                "time_s": total,
            }
        )
    else:
        below = 1.0
        total = 0.0
        for level, m in zip(system.levels, members, strict=True):
            mm = float(m)
            k = mm / below
            if k > 1:
                lv = level
                if algo == "mesh2d" and lv.topology not in ("mesh2d", "torus"):
                    raise SpecError(
                        "collective.algorithm",
                        f"level {lv.name} is a {lv.topology}, not a 2-D mesh",
                    )
                t = float(level_time(lv, k, size / below, factor))
                steps.append(
                    {
                        "level": lv.name,
                        "topology": lv.topology,
                        "participants": int(k),
                        "bytes": size / below,
                        "time_s": t,
                    }
                )
                total += t
            below = max(below, mm)
    algbw = size / total if total > 0 else math.inf
    return {
        "kind": "collective",
        "hardware": system.id,
        "op": op,
        "algorithm": algo,
        "participants": n,
        "bytes": size,
        "time_s": total,
        "algorithm_bandwidth_gbps": algbw / 1e9 if math.isfinite(algbw) else None,
        "bus_bandwidth_gbps": (algbw * 2 * factor * (n - 1) / n / 1e9)
        if math.isfinite(algbw) and n > 1
        else None,
        "steps": steps,
    }


def ring_allreduce_formula(n: int, size: float, bw: float, lat: float) -> float:
    """Return 2(n-1)/n * size/bw + 2(n-1) * lat (reference used by the tests and docs)."""
    return float(np.asarray(ring_time(n, size, bw, lat)))
