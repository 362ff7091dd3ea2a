"""Closed-form, numpy-vectorised model of one optimizer step of a decoder-only transformer.

Every layout parameter may be an array; all arithmetic broadcasts, so one call evaluates a
whole sweep. The model is physical: GEMMs on the roofline with a fixed per-kernel cost,
non-matmul ops bound by memory bandwidth, collectives with latency and bandwidth terms,
the 1F1B pipeline bubble, and memory tiers that spill and stream when tier 0 is full.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.sim.collectives import group_collective, p2p_time
from app.sim.errors import SpecError
from app.sim.hardware import System, resolve

PRECISIONS = ("bf16", "fp16", "fp8")
RECOMPUTE = {"none": 0, "selective": 1, "full": 2}
# Adam keeps an fp32 master copy plus two fp32 moments: 12 bytes per parameter.
OPT_BYTES = 12.0
# Megatron-LM accumulates and all-reduces bf16 gradients in fp32 and fp16 gradients in fp16.
GRAD_BYTES = {"bf16": 4.0, "fp16": 2.0, "fp8": 4.0}

Arr = np.ndarray


def _a(x: Any) -> Arr:
    return np.asarray(x, dtype=float)


class _Ctx:
    """Hardware constants used by the op-level cost functions."""

    def __init__(self, system: System, precision: str) -> None:
        peak_key = precision
        if precision not in system.peak:
            raise SpecError("precision", f"{precision} is not supported by {system.accelerator}")
        self.peak = system.peak[peak_key]
        self.emax = system.matmul_eff_max
        self.t0 = system.matmul_overhead_s
        t0 = system.tiers[0]
        self.bw0 = t0.bandwidth * t0.efficiency
        # Matmul inputs are 1 byte in fp8; activations and outputs stay 16-bit.
        self.e_in = 1.0 if precision == "fp8" else 2.0
        self.fp8 = precision == "fp8"
        self.e = 2.0

    def gemm(self, m: Arr, k: Arr, n: Arr, batch: Arr | float = 1.0) -> Arr:
        """Return roofline time of ``batch`` GEMMs of (m x k) @ (k x n)."""
        flops = 2.0 * m * k * n * batch
        byts = batch * (self.e_in * (m * k + k * n) + self.e * m * n)
        if self.fp8:
            # Casting the 16-bit activation input to fp8 reads 2 and writes 1 byte per element.
            byts = byts + 3.0 * batch * m * k
        return np.maximum(flops / (self.peak * self.emax), byts / self.bw0) + self.t0

    def mem(self, byts: Arr, kernels: float = 1.0) -> Arr:
        """Return time of memory-bound element-wise kernels moving ``byts`` bytes."""
        return byts / self.bw0 + kernels * self.t0


def layer_params(h: Arr, a: Arr, kv: Arr, f: Arr, gated: Arr) -> Arr:
    """Return parameters of one transformer layer (weights, biases, layer norms)."""
    d = h / a
    qkv = h * (h + 2 * kv * d) + (h + 2 * kv * d)
    proj = h * h + h
    g = np.where(gated, 2.0, 1.0)
    mlp = g * h * f + g * f + f * h + h
    return qkv + proj + mlp + 4 * h


def model_params(model: dict[str, Any]) -> Arr:
    """Return total parameters (tied input/output embedding plus learned positions)."""
    lp = layer_params(
        _a(model["hidden"]),
        _a(model["heads"]),
        _a(model["kv_heads"]),
        _a(model["ffn_hidden"]),
        _a(model["gated"]),
    )
    return (
        _a(model["layers"]) * lp
        + _a(model["vocab"]) * _a(model["hidden"])
        + _a(model["seq_len"]) * _a(model["hidden"])
    )


def layer_fwd_flops(mb: Arr, s: Arr, h: Arr, a: Arr, kv: Arr, f: Arr, gated: Arr) -> Arr:
    """Return forward FLOPs of one layer for ``mb`` sequences (attention counted in full)."""
    t = mb * s
    d = h / a
    g = np.where(gated, 2.0, 1.0)
    return (
        2 * t * h * (h + 2 * kv * d) + 2 * t * h * h + 2 * t * h * f * (g + 1) + 4 * mb * s * s * h
    )


def core(
    system: System, model: dict[str, Any], lay: dict[str, Any], precision: str
) -> dict[str, Arr]:
    """Evaluate the step time, FLOPs and memory of every layout in ``lay`` (broadcast)."""
    c = _Ctx(system, precision)
    L, h, a = _a(model["layers"]), _a(model["hidden"]), _a(model["heads"])
    kv, f, s, V = (
        _a(model["kv_heads"]),
        _a(model["ffn_hidden"]),
        _a(model["seq_len"]),
        _a(model["vocab"]),
    )
    gated = _a(model["gated"]) > 0
    flash = _a(model["flash"]) > 0
    tp, pp, dp = _a(lay["tp"]), _a(lay["pp"]), _a(lay["dp"])
    mb, gb, v = _a(lay["micro"]), _a(lay["global"]), _a(lay["interleave"])
    sp = _a(lay["sp"]) > 0
    zero, rc = _a(lay["zero"]), _a(lay["recompute"])
    dp_overlap, tp_overlap = _a(lay["dp_overlap"]) > 0, _a(lay["tp_overlap"])
    e = c.e
    n_acc = tp * pp * dp
    m = gb / (dp * mb)  # micro-batches per pipeline per step
    ls = L / pp  # layers per stage
    T = mb * s
    d = h / a
    g = np.where(gated, 2.0, 1.0)
    act_div = np.where(sp, tp, 1.0)

    # ---- per-layer forward time on one accelerator ----
    t_qkv = c.gemm(T, h, (h + 2 * kv * d) / tp)
    t_proj = c.gemm(T, h / tp, h)
    t_fc1 = c.gemm(T, h, g * f / tp)
    t_fc2 = c.gemm(T, f / tp, h)
    t_gemms = t_qkv + t_proj + t_fc1 + t_fc2
    heads_l = mb * a / tp
    # Standard attention materialises the s x s scores; flash attention keeps them on chip.
    t_bmm = c.gemm(s, d, s, heads_l) + c.gemm(s, s, d, heads_l)
    scores = heads_l * s * s
    t_core_std_f = t_bmm + c.mem(scores * (2 * e) + scores * (2 * e + 1), 2)
    t_core_std_b = 2 * t_bmm + c.mem(scores * (3 * e) + scores * (2 * e + 1), 2)
    attn_flops = 4 * mb * s * s * h / tp
    qkvo_bytes = e * T * (2 * h + 2 * kv * d) / tp
    t_core_fl_f = np.maximum(attn_flops / (c.peak * c.emax), qkvo_bytes / c.bw0) + c.t0
    # Flash backward recomputes the scores: 2.5x the forward matmul work.
    t_core_fl_b = np.maximum(2.5 * attn_flops / (c.peak * c.emax), 2 * qkvo_bytes / c.bw0) + c.t0
    t_core_f = np.where(flash, t_core_fl_f, t_core_std_f)
    t_core_b = np.where(flash, t_core_fl_b, t_core_std_b)
    act_el = T * h / act_div
    el_bytes = 2 * (2 * e) * act_el + 2 * (3 * e + 1) * act_el + (g + 1) * e * T * f / tp
    t_el_f = c.mem(el_bytes, 5)
    t_el_b = c.mem(2 * el_bytes, 5)
    t_fwd = t_gemms + t_core_f + t_el_f
    t_bwd = 2 * t_gemms + t_core_b + t_el_b
    t_rc = np.where(rc == 2, t_fwd, np.where(rc == 1, np.where(flash, 0.0, t_core_std_f), 0.0))

    # ---- tensor-parallel communication (Megatron: not overlapped unless tp_overlap) ----
    n_ar = 4.0 + np.where(rc == 2, 2.0, 0.0)
    t_ar = group_collective(system, "all-reduce", T * h * e, 1.0, tp)
    t_tp = n_ar * t_ar * (1.0 - tp_overlap)

    # ---- output layer on the last stage ----
    t_logit = 3 * c.gemm(T, h, V / tp) + c.mem(4.0 * 4 * T * V / tp, 3)

    # ---- parameters and memory footprint per accelerator (largest stage) ----
    lp = layer_params(h, a, kv, f, gated)
    emb = V * h + s * h
    p_stage = ls * lp / tp + emb / tp
    gbytes = GRAD_BYTES[precision]
    shard3 = np.where(zero >= 3, dp, 1.0)
    shard1 = np.where(zero >= 1, dp, 1.0)
    w_bytes = p_stage * e / shard3
    g_bytes = p_stage * gbytes / shard3
    o_bytes = p_stage * OPT_BYTES / shard1
    # Activations per layer per micro-batch, Korthikanti et al. 2022 (16-bit, dropout masks).
    sbh = s * mb * h
    base = np.where(sp, sbh * 34.0 / tp, sbh * (10.0 + 24.0 / tp))
    attn_act = 5.0 * a * s * s * mb / tp
    keep_attn = (rc == 0) & (~flash)
    act_layer = base + np.where(keep_attn, attn_act, 0.0)
    act_stored = np.where(rc == 2, 2.0 * sbh / act_div, act_layer)
    inflight = np.where(pp > 1, np.minimum(m, pp), 1.0)
    ifac = np.where((pp > 1) & (v > 1), 1.0 + (pp - 1) / (pp * v), 1.0)
    a_bytes = act_stored * ls * inflight * ifac
    a_bytes = a_bytes + np.where(rc == 2, act_layer, 0.0) + 4.0 * T * V / tp
    # ZeRO-3 must also hold one gathered layer's weights.
    a_bytes = a_bytes + np.where(zero >= 3, lp / tp * e, 0.0)
    total_bytes = w_bytes + g_bytes + o_bytes + a_bytes

    # Fill tiers fastest first: activations, weights, gradients, then optimizer state.
    cats = [a_bytes, w_bytes, g_bytes, o_bytes]
    placed = [[np.zeros_like(total_bytes) for _ in system.tiers] for _ in cats]
    free = [np.full_like(total_bytes, t.capacity) for t in system.tiers]
    for ci, cat in enumerate(cats):
        rest = cat + 0.0
        for ti in range(len(system.tiers)):
            put = np.minimum(rest, free[ti])
            placed[ci][ti] = put
            free[ti] = free[ti] - put
            rest = rest - put
        placed[ci][-1] = placed[ci][-1] + rest  # overflow; flagged by ``fits``
    cap_total = sum(t.capacity for t in system.tiers)
    fits = total_bytes <= cap_total

    # Data in slower tiers streams through tier 0 on every micro-batch (overlapped).
    passes = 2.0 + np.where(rc == 2, 1.0, 0.0)
    stream = np.zeros_like(total_bytes)
    for ti in range(1, len(system.tiers)):
        tier = system.tiers[ti]
        bw = tier.bandwidth * tier.efficiency
        stream = (
            stream
            + (placed[1][ti] * passes + placed[0][ti] * 2.0 / inflight + placed[2][ti] * 2.0) / bw
        )
    t_stage_compute = ls * (t_fwd + t_bwd + t_rc)
    stall = np.maximum(0.0, stream - t_stage_compute)

    # ---- pipeline ----
    t_stage = t_stage_compute + ls * t_tp + stall
    t_last = t_stage + t_logit
    t_avg = t_stage + t_logit / pp
    s_pp = T * h * e / tp  # Megatron scatter/gather: each TP rank sends its slice
    t_p2p = p2p_time(system, s_pp, tp * dp)
    pp_comm = np.where(pp > 1, 2.0 * v * m * t_p2p, 0.0)
    bubble = (pp - 1) / v * t_avg
    pipe = m * t_last + bubble + pp_comm

    # ---- data parallel ----
    p_w = p_stage * e
    p_g = p_stage * gbytes
    ar = group_collective(system, "all-reduce", p_g, tp, dp)
    rs = group_collective(system, "reduce-scatter", p_g, tp, dp)
    ag = group_collective(system, "all-gather", p_w, tp, dp)
    t_dp0 = np.where(zero >= 1, rs + ag, ar)
    window = ls * t_bwd
    dp_exp0 = np.where(dp_overlap, np.maximum(0.0, t_dp0 - window), t_dp0)
    # FSDP / ZeRO-3 gathers weights for forward and backward and reduce-scatters gradients on
    # every micro-batch, prefetching behind that micro-batch's compute.
    comm3 = 2 * ag + rs
    dp_exp3 = m * np.maximum(0.0, comm3 - t_stage_compute) + ag
    dp_comm = np.where(dp > 1, np.where(zero >= 3, dp_exp3, dp_exp0), 0.0)

    # ---- optimizer step: memory-bound Adam over the local optimizer shard ----
    p_opt = p_stage / shard1
    opt_per_param = gbytes + 8.0 + 16.0 + e
    t_opt = np.zeros_like(total_bytes)
    for ti, tier in enumerate(system.tiers):
        frac = np.where(o_bytes > 0, placed[3][ti] / np.maximum(o_bytes, 1.0), 0.0)
        if ti == 0:
            frac = np.where(o_bytes > 0, frac, 1.0)
        t_opt = t_opt + frac * p_opt * opt_per_param / (tier.bandwidth * tier.efficiency)

    iteration = pipe + dp_comm + t_opt

    # ---- FLOPs ----
    f_layer = layer_fwd_flops(_a(1.0), s, h, a, kv, f, gated)  # per sequence
    f_logit = 2 * s * h * V
    model_flops = gb * 3 * (L * f_layer + f_logit)
    rc_flops = np.where(rc == 2, L * f_layer, np.where(rc == 1, L * 4 * s * s * h, 0.0))
    rc_flops = np.where((rc == 1) & flash, 0.0, rc_flops)
    hw_flops = model_flops + gb * rc_flops
    # Narayanan et al. (Eq. 3) count a full forward recompute of every layer.
    eq3_flops = model_flops + gb * L * f_layer

    return {
        "iteration_time_s": iteration,
        "n_acc": n_acc,
        "micro_batches": m,
        "model_flops": model_flops,
        "hardware_flops": hw_flops,
        "eq3_flops": eq3_flops,
        "compute_s": m * (t_stage_compute + t_logit),
        "tp_comm_s": m * ls * t_tp,
        "pp_comm_s": pp_comm,
        "dp_comm_s": dp_comm,
        "bubble_s": bubble,
        "memory_stall_s": m * stall,
        "optimizer_s": t_opt,
        "weights_bytes": w_bytes,
        "gradients_bytes": g_bytes,
        "optimizer_bytes": o_bytes,
        "activations_bytes": a_bytes,
        "total_bytes": total_bytes,
        "fits": fits,
        "placed": np.array(
            [[np.broadcast_to(x, total_bytes.shape) for x in row] for row in placed]
        ),
        "peak": np.full_like(total_bytes, c.peak),
    }


BREAKDOWN = (
    "compute_s",
    "tp_comm_s",
    "pp_comm_s",
    "dp_comm_s",
    "bubble_s",
    "memory_stall_s",
    "optimizer_s",
)
CATEGORIES = ("activations", "weights", "gradients", "optimizer")


def parse_model(spec: dict[str, Any]) -> dict[str, Any]:
    """Read and check the ``model`` section."""
    from app.sim.spec import choice, num, section

    m = section(spec, "model")
    p = "model."
    layers = num(m, "layers", p, integer=True, minimum=1)
    hidden = num(m, "hidden", p, integer=True, minimum=1)
    heads = num(m, "heads", p, integer=True, minimum=1)
    kv = num(m, "kv_heads", p, heads, integer=True, minimum=1, maximum=heads)
    if hidden % heads:
        raise SpecError("model.heads", f"hidden {hidden} is not divisible by heads {heads}")
    if heads % kv:
        raise SpecError("model.kv_heads", f"heads {heads} is not divisible by kv_heads {kv}")
    mlp = choice(m, "mlp", p, ("gelu", "swiglu"), "gelu")
    return {
        "layers": layers,
        "hidden": hidden,
        "heads": heads,
        "kv_heads": kv,
        "ffn_hidden": num(m, "ffn_hidden", p, 4 * hidden, integer=True, minimum=1),
        "seq_len": num(m, "seq_len", p, integer=True, minimum=1),
        "vocab": num(m, "vocab", p, 51200, integer=True, minimum=1),
        "gated": mlp == "swiglu",
        "flash": choice(m, "attention", p, ("standard", "flash"), "standard") == "flash",
    }


def parse_layout(spec: dict[str, Any], model: dict[str, Any], system: System) -> dict[str, Any]:
    """Read and check parallelism, batch and recompute; infeasible layouts raise SpecError."""
    from app.sim.spec import choice, flag, num, section

    par = section(spec, "parallelism")
    bat = section(spec, "batch")
    p = "parallelism."
    tp = num(par, "tp", p, 1, integer=True, minimum=1)
    pp = num(par, "pp", p, 1, integer=True, minimum=1)
    dp = num(par, "dp", p, 1, integer=True, minimum=1)
    v = num(par, "interleave", p, 1, integer=True, minimum=1)
    zero = num(par, "zero", p, 0, integer=True, minimum=0, maximum=3)
    if zero == 2:
        raise SpecError("parallelism.zero", "must be 0, 1 or 3 (fsdp)")
    micro = num(bat, "micro", "batch.", 1, integer=True, minimum=1)
    glob = num(bat, "global", "batch.", micro * dp, integer=True, minimum=1)
    rc = choice(spec, "recompute", "", tuple(RECOMPUTE), "none")
    if model["heads"] % tp:
        raise SpecError("parallelism.tp", f"heads {model['heads']} not divisible by tp {tp}")
    if model["layers"] % (pp * v):
        raise SpecError(
            "parallelism.pp", f"layers {model['layers']} not divisible by pp*interleave {pp * v}"
        )
    if glob % (micro * dp):
        raise SpecError("batch.global", f"{glob} not divisible by micro*dp = {micro * dp}")
    m = glob // (micro * dp)
    if v > 1 and (pp == 1 or m % pp):
        raise SpecError("parallelism.interleave", "needs pp > 1 and micro-batches divisible by pp")
    n = tp * pp * dp
    if n > system.n_accel:
        raise SpecError(
            "parallelism",
            f"tp*pp*dp = {n} exceeds the {int(system.n_accel)} accelerators of {system.id}",
        )
    return {
        "tp": tp,
        "pp": pp,
        "dp": dp,
        "interleave": v,
        "zero": zero,
        "sp": flag(par, "sequence_parallel", p, False) and tp > 1,
        "micro": micro,
        "global": glob,
        "recompute": RECOMPUTE[rc],
        "dp_overlap": flag(par, "dp_overlap", p, zero >= 3),
        "tp_overlap": num(par, "tp_overlap", p, 0.0, minimum=0.0, maximum=1.0),
    }


def _scalar(x: Any) -> float:
    return float(np.asarray(x).reshape(-1)[0])


def evaluate_training(spec: dict[str, Any]) -> dict[str, Any]:
    """Evaluate an ``llm-training`` spec and return the result mapping."""
    from app.sim.spec import choice

    system = resolve(spec.get("hardware"))
    model = parse_model(spec)
    precision = choice(spec, "precision", "", PRECISIONS, "bf16")
    lay = parse_layout(spec, model, system)
    r = core(system, model, lay, precision)
    return summarize(system, model, lay, precision, r, 0)


def summarize(
    system: System,
    model: dict[str, Any],
    lay: dict[str, Any],
    precision: str,
    r: dict[str, Arr],
    i: int,
) -> dict[str, Any]:
    """Turn element ``i`` of a :func:`core` result into the public result mapping."""

    def g(k: str) -> float:
        return (
            float(np.asarray(r[k]).reshape(-1)[i]) if np.asarray(r[k]).size > 1 else _scalar(r[k])
        )

    it = g("iteration_time_s")
    n = g("n_acc")
    peak = g("peak")
    model_tf = g("model_flops") / (it * n) / 1e12
    hw_tf = g("hardware_flops") / (it * n) / 1e12
    breakdown = {k[:-2]: g(k) for k in BREAKDOWN}
    bottleneck = max(breakdown, key=lambda k: breakdown[k])
    placed = np.asarray(r["placed"])
    tiers = []
    for ti, tier in enumerate(system.tiers):
        used = {
            cat: float(placed[ci, ti].reshape(-1)[i] if placed[ci, ti].size > 1 else placed[ci, ti])
            for ci, cat in enumerate(CATEGORIES)
        }
        tiers.append(
            {
                "tier": tier.name,
                "capacity_gb": None if tier.capacity == float("inf") else tier.capacity / 1e9,
                "bandwidth_gbps": tier.bandwidth / 1e9,
                "used_gb": sum(used.values()) / 1e9,
                "by_category_gb": {k: u / 1e9 for k, u in used.items()},
            }
        )
    params = _scalar(model_params(model))
    return {
        "kind": "llm-training",
        "hardware": system.id,
        "accelerator": system.accelerator,
        "num_accelerators": int(n),
        "parameters_b": params / 1e9,
        "layout": _layout(lay, i),
        "precision": precision,
        "iteration_time_s": it,
        "tokens_per_s": lay_global(lay, i) * _scalar(model["seq_len"]) / it,
        "model_tflops_per_accelerator": model_tf,
        "hardware_tflops_per_accelerator": hw_tf,
        "mfu": model_tf * 1e12 / peak,
        "hfu": hw_tf * 1e12 / peak,
        "sustained_pflops": model_tf * n / 1e3,
        "peak_pflops": peak * n / 1e15,
        "system_accelerators": None if not np.isfinite(system.n_accel) else int(system.n_accel),
        "system_peak_pflops": None
        if not np.isfinite(system.n_accel)
        else peak * system.n_accel / 1e15,
        "memory_per_accelerator_gb": {
            "weights": g("weights_bytes") / 1e9,
            "gradients": g("gradients_bytes") / 1e9,
            "optimizer": g("optimizer_bytes") / 1e9,
            "activations": g("activations_bytes") / 1e9,
            "total": g("total_bytes") / 1e9,
        },
        "memory_tiers": tiers,
        "fits": bool(g("fits")),
        "time_breakdown_s": breakdown,
        "bottleneck": bottleneck,
        "power_kw": system.power_w_per_accel * n / 1e3,
    }


_RC_NAMES = {v: k for k, v in RECOMPUTE.items()}


def _layout(lay: dict[str, Any], i: int) -> dict[str, Any]:
    def pick(k: str) -> float:
        arr = np.asarray(lay[k]).reshape(-1)
        return float(arr[i] if arr.size > 1 else arr[0])

    out: dict[str, Any] = {
        k: int(pick(k)) for k in ("tp", "pp", "dp", "interleave", "zero", "micro", "global")
    }
    out["sequence_parallel"] = bool(pick("sp"))
    out["recompute"] = _RC_NAMES[int(pick("recompute"))]
    out["dp_overlap"] = bool(pick("dp_overlap"))
    return out


def lay_global(lay: dict[str, Any], i: int) -> float:
    """Return the global batch of element ``i``."""
    arr = np.asarray(lay["global"]).reshape(-1)
    return float(arr[i] if arr.size > 1 else arr[0])
