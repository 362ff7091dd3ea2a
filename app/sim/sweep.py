"""Vectorised layout sweeps (tp/cp/pp/dp/micro-batch/interleave/recompute/zero), local or on Dask."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from app.sim.errors import SpecError
from app.sim.hardware import System, resolve
from app.sim.limits import EVAL_CHUNK, MAX_SWEEP_GROUPS, MAX_SWEEP_LAYOUTS, check_budget
from app.sim.parse import first_broken, parse_model
from app.sim.spec import choice, num, section
from app.sim.summary import summarize
from app.sim.training import PRECISIONS, RECOMPUTE, STACKS, core, stack_defaults

LAYOUT_KEYS = (
    "tp",
    "cp",
    "pp",
    "dp",
    "micro",
    "global",
    "interleave",
    "recompute",
    "sp",
    "zero",
    "dp_overlap",
    "tp_overlap",
)


def _divisors(n: int, limit: int) -> list[int]:
    return [d for d in range(1, min(n, limit) + 1) if n % d == 0]


@lru_cache(maxsize=4096)
def _all_divisors(n: int) -> tuple[int, ...]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return tuple(sorted({*small, *(n // d for d in small)}))


def _largest_dp(glob: int, micro: int, limit: int) -> int:
    """Return the largest d <= limit with glob % (micro * d) == 0 (0 if none)."""
    if glob % micro:
        return 0
    return max((d for d in _all_divisors(glob // micro) if d <= limit), default=0)


def candidates(
    spec: dict[str, Any], model: dict[str, Any], system: System
) -> dict[str, np.ndarray]:
    """Enumerate the valid layouts of a sweep spec as parallel numpy arrays."""
    sw = section(spec, "sweep")
    bat = section(spec, "batch")
    n_default = int(system.n_accel) if math.isfinite(system.n_accel) else None
    n = num(sw, "num_accelerators", "sweep.", n_default, integer=True, minimum=1)
    if n is None:
        raise SpecError("sweep.num_accelerators", "is required on an unbounded cluster")
    if n > system.n_accel:
        raise SpecError("sweep.num_accelerators", f"{n} exceeds {int(system.n_accel)} accelerators")
    glob = num(bat, "global", "batch.", integer=True, minimum=1)

    def lst(key: str, default: list[Any]) -> list[Any]:
        val = sw.get(key, default)
        if not isinstance(val, list) or not val:
            raise SpecError(f"sweep.{key}", "must be a non-empty list")
        return val

    stack = choice(spec, "stack", "", STACKS, "megatron-2021")
    dflt = stack_defaults(stack, str(spec.get("precision") or "bf16"))
    tps = lst("tp", _divisors(model["heads"], min(n, 64)))
    # Context parallelism only pays off on long sequences; it is searched from 16K tokens on.
    cps = lst("cp", [c for c in (1, 2, 4, 8) if c == 1 or model["seq_len"] >= 16384])
    pps = lst("pp", _divisors(model["layers"], n))
    micros = lst("micro", [1, 2, 4, 8, 16])
    inters = lst("interleave", [1, 2, 3, 4])
    rcs = lst("recompute", ["none", "selective", "full"])
    zeros = lst("zero", [0, 1])
    for i, r in enumerate(rcs):
        if r not in RECOMPUTE:
            raise SpecError(f"sweep.recompute[{i}]", f"unknown recompute {r!r}")
    # A tensor-parallel group must not straddle switch-connected nodes (GPU servers); a 2-D
    # mesh can hold any sub-rectangle, so meshes are left unconstrained.
    lv0 = system.levels[0] if system.levels else None
    node = (
        int(lv0.size)
        if lv0 is not None and lv0.topology == "switch" and math.isfinite(lv0.size)
        else 0
    )
    use_all = sw.get("use_all", True)
    if not isinstance(use_all, bool):
        raise SpecError("sweep.use_all", "must be true or false")
    # Each list loses duplicates and sizes beyond the accelerators, and the tp x cp x pp
    # product is sized before a single group is built.
    tps, cps, pps = ([v for v in dict.fromkeys(values) if v <= n] for values in (tps, cps, pps))
    check_budget(
        "sweep",
        len(tps) * len(cps) * len(pps),
        MAX_SWEEP_GROUPS,
        "tp x cp x pp groups",
        "narrow sweep.tp, sweep.cp or sweep.pp",
    )
    model_cols = {k: np.array([float(v)]) for k, v in model.items()}
    tcp = np.array(list(itertools.product(tps, cps, pps)), dtype=float).reshape(-1, 3)
    mp = tcp.prod(axis=1)
    # The search space: layouts of at most n accelerators (all of them with use_all), TP inside
    # a switch-connected node; then the spec rules that the triple alone decides.
    space = (mp <= n) & np.logical_or(not use_all, n % mp == 0)
    if node:
        space &= (tcp[:, 0] % node == 0) | (node % tcp[:, 0] == 0)
    part = {**model_cols, "tp": tcp[:, 0], "cp": tcp[:, 1], "pp": tcp[:, 2]}
    space &= first_broken(part, partial=True) < 0
    triples = [(int(a), int(b), int(c)) for a, b, c in tcp[space]]
    # Only micro-batches that divide the batch and interleaves that divide a pipeline's layers
    # are searched; the search's size is known before it is built.
    micros = [mb for mb in micros if glob % mb == 0]
    inters_of = {pp: [v for v in inters if model["layers"] % (pp * v) == 0] for *_, pp in triples}
    estimate = sum(len(micros) * len(inters_of[pp]) for *_, pp in triples) * len(rcs) * len(zeros)
    check_budget(
        "sweep",
        estimate,
        MAX_SWEEP_LAYOUTS,
        "candidate layouts",
        "narrow sweep.tp, sweep.cp, sweep.pp, sweep.micro, sweep.interleave, sweep.recompute "
        "or sweep.zero",
    )
    rows = []
    for tp, cp, pp in triples:
        mp_ = tp * cp * pp
        for mb, v in itertools.product(micros, inters_of[pp]):
            # Without use_all, use as many accelerators as the batch allows; idle ones still
            # count as installed peak in the result's system figures.
            dp = n // mp_ if use_all else _largest_dp(glob, mb, n // mp_)
            if dp == 0:
                continue
            for rc, z in itertools.product(rcs, zeros):
                if z and dp == 1:
                    continue
                dp_ov = int(bool(dflt["dp_overlap"]) or z >= 3)
                rc_i, tp_ov = RECOMPUTE[rc], dflt["tp_overlap"]
                rows.append((tp, cp, pp, dp, mb, glob, v, rc_i, int(tp > 1), z, dp_ov, tp_ov))
    arr = np.array(rows, dtype=float).reshape(-1, len(LAYOUT_KEYS))
    out = {k: arr[:, i] for i, k in enumerate(LAYOUT_KEYS)}
    out["shard_group"] = out["dp"]
    # The spec rules, the same table a spec is checked with, on every candidate.
    valid = first_broken({**model_cols, **out, "n_accel": np.array([system.n_accel])}) < 0
    out = {k: v[valid] for k, v in out.items()}
    if not len(out["tp"]):
        raise SpecError("sweep", f"no valid layout of {n} accelerators for this model and batch")
    for key in (
        "param_gather_overlap",
        "p2p_overlap",
        "grad_bytes",
        "dropout",
        "kernels_fwd",
        "kernels_bwd",
        "eager",
    ):
        out[key] = np.full(len(out["tp"]), dflt[key])
    return out


def eval_chunk(
    system: System, model: dict[str, Any], lay: dict[str, np.ndarray], precision: str
) -> dict[str, np.ndarray]:
    """Evaluate one chunk of layouts; returns the arrays a ranking needs (picklable)."""
    r = core(system, model, lay, precision)
    shape = np.broadcast(r["iteration_time_s"], lay["tp"]).shape
    return {
        k: np.broadcast_to(np.asarray(r[k], dtype=float), shape).copy()
        for k in ("iteration_time_s", "fits", "model_flops", "n_acc")
    }


def _split(lay: dict[str, np.ndarray], chunks: int) -> list[dict[str, np.ndarray]]:
    idx = np.array_split(np.arange(len(lay["tp"])), max(1, chunks))
    return [{k: v[i] for k, v in lay.items()} for i in idx if len(i)]


def run_sweep(
    spec: dict[str, Any],
    scheduler: str | None = None,
    top: int = 10,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int = EVAL_CHUNK,
) -> dict[str, Any]:
    """Search the valid layouts; return the ``top`` fastest that fit in memory."""
    t_start = time.perf_counter()
    system = resolve(spec.get("hardware"))
    model = parse_model(spec)
    precision = choice(spec, "precision", "", PRECISIONS, "bf16")
    lay = candidates(spec, model, system)
    total = len(lay["tp"])
    n_chunks = max(1, math.ceil(total / chunk_size))
    parts: list[dict[str, np.ndarray]]
    if scheduler:
        parts = _dask_eval(scheduler, system, model, lay, precision, max(n_chunks, 4), progress)
    else:
        parts = []
        for i, ch in enumerate(_split(lay, n_chunks)):
            parts.append(eval_chunk(system, model, ch, precision))
            if progress:
                progress(i + 1, n_chunks)
    res = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    it = res["iteration_time_s"]
    ok = res["fits"] > 0
    order = np.lexsort((np.arange(total), np.where(ok, it, np.inf)))
    best_idx = [int(i) for i in order[:top] if ok[i]]
    best: list[dict[str, Any]] = []
    if best_idx:
        take = np.array(best_idx)
        one = {k: v[take] for k, v in lay.items()}
        one["stack"] = choice(spec, "stack", "", STACKS, "megatron-2021")
        one["overlap_from_stack"] = ["dp_overlap", "param_gather_overlap", "tp_overlap"]
        r = core(system, model, one, precision)
        best = summarize(system, model, one, precision, r, len(best_idx)).mappings()
    elapsed = time.perf_counter() - t_start
    return {
        "kind": "sweep",
        "hardware": system.id,
        "evaluated": total,
        "feasible": int(ok.sum()),
        "elapsed_s": elapsed,
        "evaluations_per_s": total / elapsed if elapsed > 0 else None,
        "backend": "dask" if scheduler else "numpy",
        "best": best,
    }


def _dask_eval(
    scheduler: str,
    system: System,
    model: dict[str, Any],
    lay: dict[str, np.ndarray],
    precision: str,
    chunks: int,
    progress: Callable[[int, int], None] | None,
) -> list[dict[str, np.ndarray]]:
    from distributed import Client

    pieces = _split(lay, chunks)
    client = Client(scheduler, set_as_default=False)
    try:
        sys_f = client.scatter(system, broadcast=True)
        futs = [client.submit(eval_chunk, sys_f, model, p, precision, pure=True) for p in pieces]
        out: list[dict[str, np.ndarray]] = []
        # Gather in submission order so the merged ranking is identical to the local one.
        for done, fut in enumerate(futs, start=1):
            out.append(client.gather(fut))
            if progress:
                progress(done, len(futs))
        return out
    finally:
        client.close()
