"""Per-operator compute cost (runner 0.5): GEMM efficiency along k and kernels per stack."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.sim import api
from app.sim.hardware import resolve
from app.sim.training import STACK_KERNELS, _Ctx


def _per_flop(ctx: _Ctx, k: float) -> float:
    """Return seconds per FLOP of a large-m, large-n GEMM with inner dimension ``k``."""
    m = n = 8192.0
    t = float(np.asarray(ctx.gemm(np.array(m), np.array(k), np.array(n))).reshape(-1)[0])
    return (t - ctx.t0) / (2 * m * n * k)


def test_a_short_k_costs_more_per_flop_on_the_a100() -> None:
    ctx = _Ctx(resolve("a100-80gb-dgx"), "bf16")
    # 768 = 12 k-slices of 64 plus 2 slices of pipeline fill: 12/14 of the long-k rate.
    ratio = _per_flop(ctx, 768.0) / _per_flop(ctx, 12288.0)
    expected = (192 / 194) / (12 / 14)
    assert abs(ratio - expected) < 1e-9


def test_hopper_persistent_gemms_expose_no_fill() -> None:
    ctx = _Ctx(resolve("h100-80gb-dgx"), "bf16")
    assert abs(_per_flop(ctx, 768.0) / _per_flop(ctx, 12288.0) - 1.0) < 1e-9


def test_a_partial_k_slice_is_computed_in_full() -> None:
    ctx = _Ctx(resolve("h100-80gb-dgx"), "bf16")
    # 96 = one and a half 64-element slices: the second slice runs in full.
    assert abs(float(ctx.k_eff(np.array(96.0))) - 0.75) < 1e-12
    # fp8 packs 128 elements into the same 128-byte slice.
    assert abs(float(ctx.k_eff(np.array(96.0), 1.0)) - 0.75) < 1e-12


def _llama_fsdp(stack: str) -> dict[str, Any]:
    return {
        "kind": "llm-training",
        "hardware": "a100-80gb-dgx",
        "stack": stack,
        "model": {
            "layers": 32,
            "hidden": 4096,
            "heads": 32,
            "ffn_hidden": 11008,
            "seq_len": 2048,
            "vocab": 32000,
            "mlp": "swiglu",
            "attention": "flash",
        },
        "parallelism": {"tp": 1, "dp": 64},
        "batch": {"micro": 4, "global": 512},
        "precision": "bf16",
        "recompute": "none",
    }


def test_an_eager_stack_launches_more_kernels_and_moves_more_bytes() -> None:
    fused = api.evaluate(_llama_fsdp("fsdp"))
    eager = api.evaluate(_llama_fsdp("fsdp-eager"))
    assert eager["layout"]["zero"] == fused["layout"]["zero"] == 3
    assert STACK_KERNELS["fsdp-eager"][0] > 5 * STACK_KERNELS["fsdp"][0]
    slower = eager["time_breakdown_s"]["compute"] / fused["time_breakdown_s"]["compute"]
    # Eight-kernel RMSNorms through fp32, unfused RoPE and SwiGLU: a few percent of a 7B layer.
    assert 1.02 < slower < 1.25
