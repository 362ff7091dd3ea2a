"""Closed-form, numpy-vectorised model of one optimizer step of a decoder-only transformer.

Every layout parameter may be an array; all arithmetic broadcasts, so one call evaluates a
whole sweep. The model is physical: GEMMs on the roofline with a fixed per-kernel cost,
non-matmul ops bound by memory bandwidth, collectives with latency and bandwidth terms,
the 1F1B pipeline bubble, and memory tiers that spill and stream when tier 0 is full.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.sim.collectives import collective_choice, p2p_time
from app.sim.errors import SpecError
from app.sim.hardware import System

PRECISIONS = ("bf16", "fp16", "fp8")
RECOMPUTE = {"none": 0, "selective": 1, "full": 2}
# Adam keeps an fp32 master copy plus two fp32 moments: 12 bytes per parameter.
OPT_BYTES = 12.0
# Megatron-LM accumulates and all-reduces bf16 gradients in fp32 and fp16 gradients in fp16.
GRAD_BYTES = {"bf16": 4.0, "fp16": 2.0, "fp8": 4.0}
# The kinds of collective whose algorithm a result reports, in ``collective_algorithms`` order.
COLLECTIVE_KINDS = ("tp", "dp_grad", "dp_param", "fp8_amax")
NO_COLLECTIVE = -1.0

Arr = np.ndarray


def _a(x: Any) -> Arr:
    return np.asarray(x, dtype=float)


class _Ctx:
    """Hardware constants used by the op-level cost functions."""

    def __init__(self, system: System, precision: str) -> None:
        if precision not in system.peak:
            raise SpecError("precision", f"{precision} is not supported by {system.accelerator}")
        self.fp8 = precision == "fp8"
        # Transformer Engine runs only the linear layers in fp8; attention, softmax and norms
        # stay in 16-bit, so they use the bf16 peak.
        self.peak16 = system.peak.get("bf16", system.peak.get("fp16", system.peak[precision]))
        self.peak = system.peak[precision]
        self.emax = system.matmul_eff_max
        self.emax_gemm = (
            system.fp8_eff_max if self.fp8 and system.fp8_eff_max is not None else self.emax
        )
        self.eattn = system.attention_eff if system.attention_eff is not None else self.emax
        self.t0 = system.matmul_overhead_s
        self.steal = system.overlap_slowdown
        t0 = system.tiers[0]
        self.bw0 = t0.bandwidth * t0.efficiency
        self.sm = system.sm_count
        self.tile = system.gemm_tile
        self.tile_k = system.gemm_tile_k
        self.k_fill = system.gemm_k_fill
        # Matmul inputs are 1 byte in fp8; activations and outputs stay 16-bit.
        self.e_in = 1.0 if self.fp8 else 2.0
        self.e = 2.0

    def wave_eff(self, m: Arr, n: Arr, batch: Arr | float = 1.0) -> Arr:
        """Return the useful fraction of the tile slots a GEMM's output occupies.

        Tile quantisation (partial edge tiles) and wave quantisation (the last wave of tiles
        leaves SMs idle), as in NVIDIA's matrix-multiplication performance guide. The better of
        the two tile orientations is taken, as cuBLAS' heuristics would.
        """
        if self.sm <= 0 or self.tile[0] <= 0 or self.tile[1] <= 0:
            return np.ones_like(np.asarray(m * n * batch, dtype=float))
        best = np.zeros(np.broadcast(m, n, batch).shape)
        for tm, tn in ((self.tile[0], self.tile[1]), (self.tile[1], self.tile[0])):
            tiles = batch * np.ceil(m / tm) * np.ceil(n / tn)
            waves = np.ceil(tiles / self.sm)
            best = np.maximum(best, batch * m * n / (tm * tn) / (waves * self.sm))
        return np.minimum(best, 1.0)

    def k_eff(self, k: Arr, e_in: float = 2.0) -> Arr:
        """Return the useful fraction of a GEMM's time spent along its inner dimension ``k``.

        Each output tile runs its main loop over ``ceil(k / tile_k)`` k-slices (the last one
        partly empty) plus ``gemm_k_fill`` slices' worth of time outside the pipelined loop
        (filling the multistage pipeline, the epilogue). A short ``k`` never amortises them.
        The k-slice is a fixed number of bytes (CUTLASS' 64 16-bit elements), so fp8 GEMMs
        take twice as many elements per slice.
        """
        if self.tile_k <= 0:
            return np.ones_like(np.asarray(k, dtype=float))
        slices = np.asarray(k, dtype=float) / (self.tile_k * 2.0 / e_in)
        return slices / (np.ceil(slices) + self.k_fill)

    def gemm(self, m: Arr, k: Arr, n: Arr, batch: Arr | float = 1.0, fp8: bool = True) -> Arr:
        """Return time of ``batch`` linear-layer GEMMs of (m x k) @ (k x n) (forward).

        ``fp8=False`` keeps a GEMM in 16-bit even in an fp8 run (the output layer, which sits
        outside Transformer Engine's fp8 region).
        """
        low = self.fp8 and fp8
        flops = 2.0 * m * k * n * batch
        e_in = self.e_in if low else self.e
        byts = batch * (e_in * (m * k + k * n) + self.e * m * n)
        rate = self.peak * self.emax_gemm if low else self.peak16 * self.emax
        q = self.wave_eff(m, n, batch) * self.k_eff(k, e_in)
        t = np.maximum(flops / (rate * q), byts / self.bw0)
        if low:
            # Transformer Engine casts the 16-bit input to fp8 (read 2, write 1 byte and the
            # amax in the same pass): one more memory-bound kernel per GEMM.
            t = t + self.mem(3.0 * batch * m * k)
        return t + self.t0

    def gemm_bwd(self, m: Arr, k: Arr, n: Arr, fp8: bool = True) -> Arr:
        """Return time of the two backward GEMMs (dgrad, wgrad) of one linear layer."""
        low = self.fp8 and fp8
        flops = 4.0 * m * k * n
        e_in = self.e_in if low else self.e
        byts = e_in * (2 * m * n + m * k + k * n) + self.e * (m * k + k * n)
        # dgrad: (m x n) @ (n x k), inner dimension n; wgrad: (k x m) @ (m x n), inner m.
        inv_q = 0.5 / (self.wave_eff(m, k) * self.k_eff(n, e_in))
        inv_q = inv_q + 0.5 / (self.wave_eff(k, n) * self.k_eff(m, e_in))
        rate = self.peak * self.emax_gemm if low else self.peak16 * self.emax
        t = np.maximum(flops * inv_q / rate, byts / self.bw0) + 2 * self.t0
        if low:
            # Cast of the output gradient (3 bytes/element) and fp8 transposes of it and of the
            # saved input (2 bytes/element each) for the wgrad GEMM.
            t = t + self.mem(5.0 * m * n + 2.0 * m * k, 2.0)
        return t

    def bmm(self, m: Arr, k: Arr, n: Arr, batch: Arr) -> Arr:
        """Return time of 16-bit batched attention GEMMs (standard attention)."""
        flops = 2.0 * m * k * n * batch
        byts = batch * self.e * (m * k + k * n + m * n)
        q = self.wave_eff(m, n, batch) * self.k_eff(k)
        return np.maximum(flops / (self.peak16 * self.emax * q), byts / self.bw0) + self.t0

    def mem(self, byts: Arr, kernels: Arr | float = 1.0) -> Arr:
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


def stage_layers(L: Arr, pp: Arr, v: Arr) -> tuple[Arr, Arr, Arr]:
    """Return decoder layers on the first, busiest middle and last pipeline rank.

    When ``pp x v`` divides the layers, every virtual stage gets the same number and the
    embedding and the loss ride on the first and last stage (Megatron's default). Otherwise
    the embedding and the loss each count as one layer (Megatron-Core's
    ``account_for_embedding_in_pipeline_split`` / ``account_for_loss_in_pipeline_split``):
    ``L + 2`` units are spread over the ``pp x v`` virtual stages as evenly as possible, the
    extra units going to virtual stages 1, 2, ... (rank ``j mod pp``). The middle value is 0
    when ``pp <= 2``.
    """
    S = pp * v
    even = np.mod(L, S) == 0
    U = L + 2.0
    q = np.floor(U / S)
    r = U - q * S
    e_first = np.floor(r / pp)
    e_mid = np.where(r >= 1, np.floor((r - 1) / pp) + 1, 0.0)
    e_last = np.floor((r + 1) / pp)
    n_first = np.where(even, L / pp, v * q + e_first - 1)
    n_last = np.where(even, L / pp, v * q + e_last - 1)
    n_mid = np.where(pp > 2, np.where(even, L / pp, v * q + e_mid), 0.0)
    return n_first, n_mid, n_last


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

    def opt(key: str, default: float) -> Arr:
        return _a(lay.get(key, default))

    tp, pp, dp = _a(lay["tp"]), _a(lay["pp"]), _a(lay["dp"])
    cp = opt("cp", 1.0)
    mb, gb, v = _a(lay["micro"]), _a(lay["global"]), _a(lay["interleave"])
    sp = _a(lay["sp"]) > 0
    zero, rc = _a(lay["zero"]), _a(lay["recompute"])
    dp_overlap, tp_overlap = _a(lay["dp_overlap"]) > 0, _a(lay["tp_overlap"])
    pg_overlap = opt("param_gather_overlap", 0.0) > 0
    shard_group = opt("shard_group", 0.0)
    shard_group = np.where(shard_group > 0, shard_group, dp)
    gbytes = opt("grad_bytes", GRAD_BYTES[precision])
    e = c.e
    n_acc = tp * cp * pp * dp
    m = gb / (dp * mb)  # micro-batches per pipeline per step
    T = mb * s / cp  # tokens of one micro-batch on one context-parallel rank
    d = h / a
    g = np.where(gated, 2.0, 1.0)
    act_div = np.where(sp, tp, 1.0)
    n_first, n_mid, n_last = stage_layers(L, pp, v)
    n_max = np.maximum(np.maximum(n_first, n_mid), n_last)

    # ---- per-layer forward time on one accelerator ----
    qkv_n = (h + 2 * kv * d) / tp
    t_gemms = c.gemm(T, h, qkv_n) + c.gemm(T, h / tp, h) + c.gemm(T, h, g * f / tp)
    t_gemms = t_gemms + c.gemm(T, f / tp, h)
    t_gemms_b = c.gemm_bwd(T, h, qkv_n) + c.gemm_bwd(T, h / tp, h) + c.gemm_bwd(T, h, g * f / tp)
    t_gemms_b = t_gemms_b + c.gemm_bwd(T, f / tp, h)
    heads_l = mb * a / tp
    # Standard attention materialises the s x s scores; flash attention keeps them on chip.
    sq = s / cp
    t_bmm = c.bmm(sq, d, s, heads_l) + c.bmm(sq, s, d, heads_l)
    scores = heads_l * sq * s
    t_core_std_f = t_bmm + c.mem(scores * (2 * e) + scores * (2 * e + 1), 2)
    t_core_std_b = 2 * t_bmm + c.mem(scores * (3 * e) + scores * (2 * e + 1), 2)
    # Flash attention on a causal decoder skips the masked half of the score blocks.
    attn_flops = 0.5 * 4 * mb * sq * s * h / tp
    qkvo_bytes = e * T * (2 * h + 2 * kv * d) / tp
    attn_rate = c.peak16 * c.eattn
    t_core_fl_f = np.maximum(attn_flops / attn_rate, qkvo_bytes / c.bw0) + cp * c.t0
    # Flash backward recomputes the scores: 2.5x the forward matmul work.
    t_core_fl_b = np.maximum(2.5 * attn_flops / attn_rate, 2 * qkvo_bytes / c.bw0) + cp * c.t0
    t_core_f = np.where(flash, t_core_fl_f, t_core_std_f)
    t_core_b = np.where(flash, t_core_fl_b, t_core_std_b)
    # Element-wise ops. Fused stacks (Megatron, Transformer Engine): one kernel per norm,
    # bias-dropout-add and activation, each reading and writing its tensor once. An eager
    # PyTorch stack runs every operator of the module's code as its own kernel (see
    # ``STACK_KERNELS``): RMSNorm as eight kernels through fp32 (36 bytes per element), plain
    # residual adds, SiLU and the gate product apart, rotary embeddings on Q and K as five
    # kernels each (20 bytes per element).
    act_el = T * h / act_div
    el_bytes = 2 * (2 * e) * act_el + 2 * (3 * e + 1) * act_el + (g + 1) * e * T * f / tp
    eager_bytes = 2 * 36.0 * act_el + 2 * 3 * e * act_el + np.where(gated, 10.0, 4.0) * T * f / tp
    eager_bytes = eager_bytes + 20.0 * T * (h + kv * d) / tp
    el_bytes = np.where(opt("eager", 0.0) > 0, eager_bytes, el_bytes)
    t_el_f = c.mem(el_bytes, opt("kernels_fwd", 5.0))
    t_el_b = c.mem(2 * el_bytes, opt("kernels_bwd", 5.0))

    # ---- context parallelism: ring exchange of K and V blocks (Megatron-Core / TE) ----
    # cp - 1 steps; each step's transfer overlaps with one block of attention compute, so only
    # the excess is exposed. Backward sends K, V and their gradients (twice the bytes). Ranks
    # of a CP group sit tp apart; the ring's longest hop decides the link it runs on.
    kv_bytes = 2 * e * T * kv * d / tp
    hop = tp * np.maximum(cp - 1, 1.0)
    t_kv = p2p_time(system, kv_bytes, hop)
    t_kv_b = p2p_time(system, 2 * kv_bytes, hop)
    steps = np.maximum(cp - 1, 0.0)
    # The hidden part of each transfer still slows the attention under it (SM contention).
    cp_f = steps * (
        np.maximum(0.0, t_kv - t_core_f / cp) + c.steal * np.minimum(t_kv, t_core_f / cp)
    )
    cp_b = steps * (
        np.maximum(0.0, t_kv_b - t_core_b / cp) + c.steal * np.minimum(t_kv_b, t_core_b / cp)
    )
    # Merging each block's partial output (online-softmax correction): one O-sized pass.
    corr = steps * c.mem(3 * e * T * h / tp)
    t_cp = np.where(cp > 1, cp_f + cp_b, 0.0)

    t_fwd = t_gemms + t_core_f + t_el_f + np.where(cp > 1, corr, 0.0)
    t_bwd = t_gemms_b + t_core_b + t_el_b + np.where(cp > 1, 2 * corr, 0.0)
    t_rc = np.where(rc == 2, t_fwd, np.where(rc == 1, np.where(flash, 0.0, t_core_std_f), 0.0))

    # ---- tensor-parallel communication ----
    # 4 all-reduce equivalents per layer (AG + RS under sequence parallelism, same bytes), 6
    # with full recompute. ``tp_overlap`` is the fraction that can hide under the GEMMs next
    # to it (Transformer Engine userbuffers); it can never hide more than the GEMM time.
    n_ar = 4.0 + np.where(rc == 2, 2.0, 0.0)
    t_ar, algo_tp = collective_choice(system, "all-reduce", T * h * e, 1.0, tp)
    t_tp_all = n_ar * t_ar
    gemm_window = t_gemms + t_gemms_b + np.where(rc == 2, t_gemms, 0.0)
    t_tp_hidden = tp_overlap * np.minimum(t_tp_all, gemm_window)
    t_tp = t_tp_all - t_tp_hidden + c.steal * t_tp_hidden
    t_tp = np.where(tp > 1, t_tp, 0.0)

    # ---- embedding (first stage) and output layer + loss (last stage) ----
    t_emb = c.mem(2 * e * T * h / act_div)
    # The output layer is outside Transformer Engine's fp8 region (Megatron-Core builds it as a
    # plain column-parallel linear), so it stays 16-bit in an fp8 run.
    t_logit = c.gemm(T, h, V / tp, fp8=False) + c.gemm_bwd(T, h, V / tp, fp8=False)
    t_logit = t_logit + c.mem(4.0 * 4 * T * V / tp, 3)

    # ---- parameters per accelerator (per rank: first, busiest middle, last) ----
    lp = layer_params(h, a, kv, f, gated)
    emb_in = (V * h + s * h) / tp
    emb_out = np.where(pp > 1, V * h / tp, 0.0)  # output layer (or tied copy) on the last stage
    p_first = n_first * lp / tp + emb_in
    p_mid = n_mid * lp / tp
    p_last = n_last * lp / tp + emb_out
    n_shard = shard_group * cp  # ranks a ZeRO / FSDP shard is spread over
    shard3 = np.where(zero >= 3, n_shard, 1.0)
    shard2 = np.where(zero >= 2, n_shard, 1.0)
    shard1 = np.where(zero >= 1, n_shard, 1.0)
    # Transformer Engine caches an fp8 copy of each weight (1 byte/param) for the whole step.
    w_per = e + (1.0 if c.fp8 else 0.0)

    # Activations per layer per micro-batch (bytes), after Korthikanti et al. 2022, written
    # per tensor so GQA, SwiGLU, dropout-free models and fp8 inputs follow:
    sbh = T * h
    e_lin = 1.0 if c.fp8 else 2.0  # TE saves the fp8 cast of each linear layer's input
    drop = opt("dropout", 1.0)  # two 1-byte dropout masks (2021-22 Megatron GPT recipes)
    repl = sbh * (2 + e_lin + 2 + e_lin + 2 * drop)  # norms, QKV/FC1 inputs, masks
    split = 2 * T * (h + 2 * kv * d) + e_lin * sbh  # Q, K, V and the projection input
    split = split + 2 * g * T * f + e_lin * T * f  # FC1 output(s) and FC2 input
    base = np.where(sp, (repl + split) / tp, repl + split / tp)
    attn_act = 5.0 * a * sq * s * mb / tp
    keep_attn = (rc == 0) & (~flash)
    act_layer = base + np.where(keep_attn, attn_act, 0.0)
    act_stored = np.where(rc == 2, 2.0 * sbh / act_div, act_layer)
    ifac = np.where((pp > 1) & (v > 1), 1.0 + (pp - 1) / (pp * v), 1.0)
    logits = 4.0 * T * V / tp
    # ZeRO-3 must also hold the gathered weights of the layer in use and the one prefetched.
    gathered = np.where(zero >= 3, 2 * lp / tp * w_per, 0.0)
    recompute_buf = np.where(rc == 2, act_layer, 0.0)

    def rank_bytes(n_k: Arr, p_k: Arr, inflight: Arr, last: Arr) -> tuple[Arr, ...]:
        a_k = act_stored * n_k * inflight * ifac + recompute_buf + gathered
        a_k = a_k + np.where(last, logits, 0.0)
        return p_k * w_per / shard3, p_k * gbytes / shard2, p_k * OPT_BYTES / shard1, a_k

    in_first = np.where(pp > 1, np.minimum(m, pp), 1.0)
    in_mid = np.where(pp > 1, np.minimum(m, pp - 1), 1.0)
    ranks = [
        rank_bytes(n_first, p_first, in_first, pp == 1),
        rank_bytes(n_mid, p_mid, in_mid, np.zeros_like(pp, dtype=bool)),
        rank_bytes(n_last, p_last, np.ones_like(pp), np.ones_like(pp, dtype=bool)),
    ]
    totals = [sum(r) for r in ranks]
    pick_mid = (totals[1] > totals[0]) & (totals[1] >= totals[2])
    pick_last = (~pick_mid) & (totals[2] > totals[0])
    w_bytes, g_bytes, o_bytes, a_bytes = (
        np.where(pick_last, ranks[2][i], np.where(pick_mid, ranks[1][i], ranks[0][i]))
        for i in range(4)
    )
    p_stage = np.where(pick_last, p_last, np.where(pick_mid, p_mid, p_first))
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

    # ---- per-layer time of one micro-batch (compute + exposed TP and CP communication) ----
    t_layer_compute = t_fwd + t_bwd + t_rc
    t_layer = t_layer_compute + t_tp + t_cp

    # Data in slower tiers streams through tier 0 on every micro-batch (overlapped).
    passes = 2.0 + np.where(rc == 2, 1.0, 0.0)
    stream = np.zeros_like(total_bytes)
    for ti in range(1, len(system.tiers)):
        tier = system.tiers[ti]
        bw = tier.bandwidth * tier.efficiency
        stream = (
            stream
            + (placed[1][ti] * passes + placed[0][ti] * 2.0 / in_first + placed[2][ti] * 2.0) / bw
        )
    t_stage_compute = n_max * t_layer_compute
    stall = np.maximum(0.0, stream - t_stage_compute)

    # ---- pipeline: the busiest rank paces the steady state ----
    t_first = n_first * t_layer + np.where(pp > 1, t_emb, t_emb + t_logit)
    t_mid = n_mid * t_layer
    t_last = n_last * t_layer + t_logit
    t_max = np.maximum(np.maximum(t_first, t_mid), np.where(pp > 1, t_last, 0.0)) + stall
    t_avg = (L * t_layer + t_logit + t_emb) / pp + stall
    s_pp = T * h * e / tp  # Megatron scatter/gather: each TP rank sends its slice
    t_p2p = p2p_time(system, s_pp, tp * cp * dp)
    # One virtual stage (model chunk) of one micro-batch on the busiest rank.
    t_fc = n_max * t_fwd / v
    t_bc = n_max * t_bwd / v
    # Megatron-Core's interleaved schedule overlaps each send/receive with the next chunk's
    # compute (``overlap_p2p_comm``); only the excess is exposed. Without it every transfer is.
    p2p_ov = (opt("p2p_overlap", 0.0) > 0) & (v > 1)
    t_p2p_exp = np.where(p2p_ov, np.maximum(0.0, t_p2p - np.minimum(t_fc, t_bc)), t_p2p)
    t_p2p_exp = t_p2p_exp + c.steal * (t_p2p - t_p2p_exp)
    pp_comm = np.where(pp > 1, 2.0 * v * m * t_p2p_exp, 0.0)
    bubble = (pp - 1) / v * t_avg
    pipe = m * t_max + bubble + pp_comm

    # ---- data parallel (gradients over the dp x cp group; ZeRO / HSDP sharding) ----
    # Ranks are laid out tp innermost, then cp, then dp, then pp (Megatron's order), so the
    # gradient group is contiguous with stride tp. A shard group of ``shard_group x cp`` ranks
    # reduce-scatters / all-gathers; the dp / shard_group replicas all-reduce their shard.
    p_w = p_stage * e
    p_g = p_stage * gbytes
    replicas = dp / shard_group
    # Collectives go out bucket by bucket, each paying its own latency. Megatron-Core's
    # default bucket: max(40M, 1M x data-parallel size) parameters, per model chunk.
    buckets = np.maximum(np.ceil(p_stage / v / np.maximum(40e6, 1e6 * cp * dp)), 1.0) * v

    def bucketed(kind: str, size: Arr, stride: Arr, count: Arr) -> tuple[Arr, Arr]:
        t, algo = collective_choice(system, kind, size / buckets, stride, count)
        return buckets * t, algo

    ar, algo_ar = bucketed("all-reduce", p_g, tp, cp * dp)
    rs, algo_rs = bucketed("reduce-scatter", p_g, tp, n_shard)
    ag, algo_ag = bucketed("all-gather", p_w, tp, n_shard)
    ar_rep, _ = bucketed("all-reduce", p_g / n_shard, tp * n_shard, replicas)
    ar_rep = np.where(replicas > 1, ar_rep, 0.0)
    t_grad = np.where(zero >= 1, rs + ar_rep, ar)
    t_param = np.where(zero >= 1, ag, 0.0)
    # The data-parallel timeline of the (interleaved) 1F1B schedule on the first pipeline
    # rank, whose last backward ends the step. Chunk j (of v) finishes its last backward
    # ``j x min(m, pp)`` chunk-backwards before the step's end (the cool-down runs the chunks
    # in reverse, ``min(m, pp)`` micro-batches each), and its gradients go out bucket by bucket
    # from then on, one collective after the other. Symmetrically, the next step's forward
    # needs chunk j's parameters ``j x min(m, pp)`` chunk-forwards after it starts, so the
    # distributed optimizer's all-gathers run during the ramp-up. A FIFO of v equal jobs
    # released every W ends ``max(c, v c - (v-1) W)`` after the last release; within the last
    # chunk the buckets overlap that chunk's own backward (forward), and the last (first)
    # bucket is always exposed. v = 1 is the plain "behind the last micro-batch" rule.
    groups = np.minimum(m, pp)
    per_chunk_b = buckets / v

    def exposed(t: Arr, t_chunk: Arr) -> Arr:
        c_t = t / v
        window = (v - 1.0) * groups * t_chunk + t_chunk
        return np.maximum(np.maximum(c_t / per_chunk_b, c_t - t_chunk), t - window)

    grad_exp = np.where(dp_overlap, exposed(t_grad, t_bc), t_grad)
    param_exp = np.where(pg_overlap, exposed(t_param, t_fc), t_param)
    # What hides under compute still slows it (SM contention).
    grad_exp = grad_exp + c.steal * (t_grad - grad_exp)
    param_exp = param_exp + c.steal * (t_param - param_exp)
    # FSDP / ZeRO-3 gathers weights for forward and backward and reduce-scatters gradients on
    # every micro-batch, prefetching behind that micro-batch's compute.
    comm3 = 2 * ag + rs
    dp_exp3 = m * np.maximum(0.0, comm3 - t_stage_compute) + ag + ar_rep
    dp_exp3 = dp_exp3 + c.steal * m * np.minimum(comm3, t_stage_compute)
    dp_comm = np.where(cp * dp > 1, np.where(zero >= 3, dp_exp3, grad_exp + param_exp), 0.0)

    # ---- optimizer step: memory-bound Adam over the local optimizer shard ----
    p_opt = p_stage / shard1
    opt_per_param = gbytes + 8.0 + 16.0 + e
    t_opt = np.zeros_like(total_bytes)
    for ti, tier in enumerate(system.tiers):
        frac = np.where(o_bytes > 0, placed[3][ti] / np.maximum(o_bytes, 1.0), 0.0)
        if ti == 0:
            frac = np.where(o_bytes > 0, frac, 1.0)
        t_opt = t_opt + frac * p_opt * opt_per_param / (tier.bandwidth * tier.efficiency)
    if c.fp8:
        # Once per step: cast the local weights to fp8 and transpose them (5 bytes/param), and
        # all-reduce the amax history of every fp8 tensor (12 per layer) across all ranks.
        t_opt = t_opt + c.mem(5.0 * p_stage / shard3)
        t_amax, algo_amax = collective_choice(system, "all-reduce", 12 * 4 * n_max, 1.0, n_acc)
        t_opt = t_opt + t_amax
    else:
        algo_amax = np.full_like(t_opt, NO_COLLECTIVE)

    iteration = pipe + dp_comm + t_opt

    # ---- FLOPs ----
    f_layer = layer_fwd_flops(_a(1.0), s, h, a, kv, f, gated)  # per sequence
    f_logit = 2 * s * h * V
    model_flops = gb * 3 * (L * f_layer + f_logit)
    # The other convention: a causal decoder's attention scores and their product with V
    # (4 s^2 h of a layer's forward per sequence) counted at half, as Megatron-Bridge and NeMo
    # AutoModel count them; ``model_flops`` counts them in full, as NeMo 24.07 and Narayanan's
    # Eq. 3 do.
    model_flops_causal = model_flops - gb * 3 * L * 2 * s * s * h
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
        "model_flops_causal": model_flops_causal,
        "hardware_flops": hw_flops,
        "eq3_flops": eq3_flops,
        "compute_s": m * (t_stage_compute + t_logit),
        "tp_comm_s": m * n_max * t_tp,
        "cp_comm_s": m * n_max * t_cp,
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
        "stage_layers": np.array(
            [np.broadcast_to(x, total_bytes.shape) for x in (n_first, n_mid, n_last)]
        ),
        # The algorithm (index in ``collectives.ALGORITHMS``, or NO_COLLECTIVE) of each kind
        # of collective: TP all-reduce, gradient reduction, parameter gather, fp8 amax.
        "collective_algorithms": np.array(
            [
                np.broadcast_to(np.where(cond, algo, NO_COLLECTIVE), total_bytes.shape)
                for cond, algo in (
                    (tp > 1, algo_tp),
                    (cp * dp > 1, np.where(zero >= 1, algo_rs, algo_ar)),
                    ((cp * dp > 1) & (zero >= 1), algo_ag),
                    (n_acc > 1, algo_amax),
                )
            ]
        ),
    }


BREAKDOWN = (
    "compute_s",
    "tp_comm_s",
    "cp_comm_s",
    "pp_comm_s",
    "dp_comm_s",
    "bubble_s",
    "memory_stall_s",
    "optimizer_s",
)
CATEGORIES = ("activations", "weights", "gradients", "optimizer")


STACKS = ("megatron-2021", "megatron-core", "nemo", "fsdp", "fsdp-eager")
# Overlap each training stack applies when the spec does not say: (grad reduce-scatter behind
# backward, parameter all-gather behind forward, fraction of TP communication under GEMMs).
STACK_OVERLAP: dict[str, tuple[bool, bool, float]] = {
    "megatron-2021": (False, False, 0.0),
    "megatron-core": (True, True, 0.0),
    "nemo": (True, True, 1.0),
    "fsdp": (True, True, 0.0),
    "fsdp-eager": (True, True, 0.0),
}
# Element-wise kernels per transformer layer (forward, backward), outside the GEMMs and the
# attention core, counted in each stack's layer code:
# - megatron-2021: Megatron-LM's ParallelTransformerLayer (megatron/model/transformer.py at
#   2e90a34, the commit the calibration rows cite): forward = 2 apex fused LayerNorms,
#   2 jit-fused bias-dropout-adds, 1 fused bias-GeLU; backward = 3 kernels per apex LayerNorm
#   backward (input gradient, partial and final weight gradients), 2 bias-dropout-add and
#   1 bias-GeLU backward, 4 bias-gradient reductions (``grad_output.sum`` of each linear).
# - megatron-core, nemo, fsdp (Transformer Engine modules: TransformerLayer with
#   LayerNormLinear / LayerNormMLP, as NeMo AutoModel also runs them under FSDP2): forward =
#   2 norms, 2 fused bias-dropout-adds, 1 fused activation; backward = 2 kernels per norm
#   (gradient, weight-gradient finalisation), 2 bias-dropout-add, 1 activation; bias
#   gradients and main-gradient accumulation ride in the GEMM epilogues.
# - fsdp-eager: an eager Hugging Face Llama layer (transformers
#   models/llama/modeling_llama.py: LlamaRMSNorm = to(fp32), pow, mean, +eps, rsqrt, mul,
#   to(bf16), weight mul; apply_rotary_pos_emb = mul, neg, cat, mul, add per tensor; SiLU
#   and the gate product; 2 residual adds): 16 + 10 + 2 + 2 = 30 forward kernels; autograd
#   runs one or two kernels per operator backward, about twice the forward count.
STACK_KERNELS: dict[str, tuple[float, float]] = {
    "megatron-2021": (5.0, 13.0),
    "megatron-core": (5.0, 7.0),
    "nemo": (5.0, 7.0),
    "fsdp": (5.0, 7.0),
    "fsdp-eager": (30.0, 60.0),
}


def stack_defaults(stack: str, precision: str) -> dict[str, float]:
    """Return the layout values a training stack implies when the spec leaves them out."""
    dp_ov, pg_ov, tp_ov = STACK_OVERLAP[stack]
    grad_bytes = GRAD_BYTES.get(precision, 4.0)
    if stack == "nemo" and precision in ("bf16", "fp8"):
        grad_bytes = 2.0  # NeMo's performance recipes reduce gradients in bf16
    return {
        "dp_overlap": float(dp_ov),
        "param_gather_overlap": float(pg_ov),
        "tp_overlap": tp_ov,
        # Megatron-Core (and NeMo on it) overlaps the interleaved schedule's P2P transfers
        # with compute (``overlap_p2p_comm``); Megatron-LM 2021-22 did not.
        "p2p_overlap": 0.0 if stack == "megatron-2021" else 1.0,
        "grad_bytes": grad_bytes,
        # Megatron's 2021-22 GPT runs used dropout; current NeMo/Megatron-Core/FSDP
        # pre-training recipes set hidden and attention dropout to 0.
        "dropout": 1.0 if stack == "megatron-2021" else 0.0,
        "kernels_fwd": STACK_KERNELS[stack][0],
        "kernels_bwd": STACK_KERNELS[stack][1],
        "eager": 1.0 if stack == "fsdp-eager" else 0.0,
    }
