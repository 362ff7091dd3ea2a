"""Studies built on the training model: largest model that fits, scaling across chips."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from app.sim.errors import SpecError
from app.sim.hardware import System, resolve
from app.sim.limits import EVAL_CHUNK, MAX_GRID_POINTS, MAX_SERIES_POINTS, check_budget
from app.sim.parse import parse_model
from app.sim.spec import choice, num, section
from app.sim.training import PRECISIONS, RECOMPUTE, core, model_params


def _int_list(d: dict[str, Any], key: str, path: str) -> list[int]:
    val = d.get(key)
    if isinstance(val, dict):
        start = num(val, "start", f"{path}{key}.", integer=True, minimum=1)
        stop = num(val, "stop", f"{path}{key}.", integer=True, minimum=start)
        step = num(val, "step", f"{path}{key}.", 1, integer=True, minimum=1)
        values = range(start, stop + 1, step)
        check_budget(f"{path}{key}", len(values), MAX_SERIES_POINTS, "values", "use a larger step")
        return list(values)
    if not isinstance(val, list) or not val or not all(isinstance(x, int) for x in val):
        raise SpecError(f"{path}{key}", "must be a list of integers or {start, stop, step}")
    check_budget(f"{path}{key}", len(val), MAX_SERIES_POINTS, "values", "list fewer")
    return val


def _core_chunked(
    system: System, model: dict[str, Any], lay: dict[str, Any], precision: str, n: int
) -> dict[str, np.ndarray]:
    """Return the grid figures the studies use, evaluated EVAL_CHUNK models at a time."""
    keys = ("fits", "iteration_time_s", "model_flops", "total_bytes")
    out = {k: np.empty(n) for k in keys}
    for start in range(0, n, EVAL_CHUNK):
        part = slice(start, min(n, start + EVAL_CHUNK))
        sub = {
            k: v[part] if isinstance(v, np.ndarray) and v.shape == (n,) else v
            for k, v in model.items()
        }
        r = core(system, sub, lay, precision)
        for k in keys:
            out[k][part] = np.broadcast_to(r[k], (part.stop - part.start,))
    return out


def evaluate_max_model(spec: dict[str, Any]) -> dict[str, Any]:
    """Find the largest GPT (layers x hidden grid) whose training state fits the chosen tiers."""
    system = resolve(spec.get("hardware"))
    tiers = spec.get("tiers")
    if tiers is not None:
        if not isinstance(tiers, list):
            raise SpecError("tiers", "must be a list of memory tier names")
        names = [t.name for t in system.tiers]
        for i, t in enumerate(tiers):
            if t not in names:
                raise SpecError(f"tiers[{i}]", f"unknown tier {t!r}; {system.id} has {names}")
        system = dataclasses.replace(
            system, tiers=tuple(t for t in system.tiers if t.name in tiers)
        )
    m = section(spec, "model")
    s = section(spec, "search")
    head_dim = num(m, "head_dim", "model.", 64, integer=True, minimum=1)
    hidden = np.array(_int_list(s, "hidden", "search."), dtype=float)
    layers = np.array(_int_list(s, "layers", "search."), dtype=float)
    check_budget(
        "search",
        hidden.size * layers.size,
        MAX_GRID_POINTS,
        "models in the hidden x layers grid",
        "narrow search.hidden or search.layers, or use larger steps",
    )
    if np.any(hidden % head_dim):
        raise SpecError(
            "search.hidden", f"every hidden size must be a multiple of head_dim {head_dim}"
        )
    H, L = np.meshgrid(hidden, layers, indexing="ij")
    H, L = H.ravel(), L.ravel()
    model = {
        "layers": L,
        "hidden": H,
        "heads": H / head_dim,
        "kv_heads": H / head_dim,
        "ffn_hidden": 4 * H,
        "seq_len": num(m, "seq_len", "model.", integer=True, minimum=1),
        "vocab": num(m, "vocab", "model.", 50257, integer=True, minimum=1),
        "gated": False,
        "flash": m.get("attention") == "flash",
    }
    bat = section(spec, "batch")
    micro = num(bat, "micro", "batch.", 1, integer=True, minimum=1)
    glob = num(bat, "global", "batch.", micro, integer=True, minimum=micro)
    precision = choice(spec, "precision", "", PRECISIONS, "bf16")
    rc = choice(spec, "recompute", "", tuple(RECOMPUTE), "full")
    lay = {
        "tp": 1,
        "pp": 1,
        "dp": 1,
        "micro": micro,
        "global": glob,
        "interleave": 1,
        "recompute": RECOMPUTE[rc],
        "sp": 0,
        "zero": 0,
        "dp_overlap": 0,
        "tp_overlap": 0.0,
    }
    r = _core_chunked(system, model, lay, precision, H.size)
    params = np.broadcast_to(model_params(model), H.shape)
    fits = np.broadcast_to(r["fits"], H.shape)
    if not fits.any():
        raise SpecError("search", "no model in the grid fits the selected memory tiers")
    idx = np.where(fits, params, -1.0)
    order = np.argsort(-idx, kind="stable")[:5]
    it = np.broadcast_to(r["iteration_time_s"], H.shape)
    mf = np.broadcast_to(r["model_flops"], H.shape)
    peak = system.peak[precision]

    def row(i: int) -> dict[str, Any]:
        cap = sum(t.capacity for t in system.tiers)
        return {
            "parameters_m": float(params[i]) / 1e6,
            "layers": int(L[i]),
            "hidden": int(H[i]),
            "heads": int(H[i] // head_dim),
            "memory_mb": float(np.broadcast_to(r["total_bytes"], H.shape)[i]) / 1e6,
            "capacity_mb": cap / 1e6,
            "iteration_time_s": float(it[i]),
            "tokens_per_s": glob * model["seq_len"] / float(it[i]),
            "mfu": float(mf[i]) / float(it[i]) / peak,
        }

    best = row(int(order[0]))
    return {
        "kind": "llm-max-model",
        "hardware": system.id,
        "tiers": [t.name for t in system.tiers],
        "evaluated": int(H.size),
        "num_accelerators": 1,
        "largest": best,
        "runners_up": [row(int(i)) for i in order[1:] if fits[i]],
        "note": "training state = bf16 weights + grads + fp32 Adam (12 B/param) + activations",
    }


def evaluate_scaling(spec: dict[str, Any]) -> dict[str, Any]:
    """Weak-scale a model with data parallelism over chip counts (one vectorised call).

    Every point uses the same per-chip batch, micro-batch and recompute, so the efficiency
    ``throughput(n) / (n x throughput(1))`` isolates the cost of the gradient all-reduce.
    """
    system = resolve(spec.get("hardware"))
    model = parse_model(spec)
    chips = np.array(_int_list(spec, "chips", ""), dtype=float)
    if chips.max() > system.n_accel:
        raise SpecError("chips", f"{int(chips.max())} exceeds {int(system.n_accel)} accelerators")
    bat = section(spec, "batch")
    per_chip = num(bat, "per_chip_global", "batch.", 8, integer=True, minimum=1)
    micro = num(bat, "micro", "batch.", 1, integer=True, minimum=1)
    if per_chip % micro:
        raise SpecError("batch.micro", f"must divide per_chip_global {per_chip}")
    precision = choice(spec, "precision", "", PRECISIONS, "bf16")
    rc = choice(spec, "recompute", "", tuple(RECOMPUTE), "full")
    lay = {
        "tp": 1,
        "pp": 1,
        "dp": chips,
        "micro": micro,
        "global": per_chip * chips,
        "interleave": 1,
        "recompute": RECOMPUTE[rc],
        "sp": 0,
        "zero": 0,
        "dp_overlap": 0,
        "tp_overlap": 0.0,
    }
    r = core(system, model, lay, precision)
    it = np.broadcast_to(r["iteration_time_s"], chips.shape)
    fits = np.broadcast_to(r["fits"], chips.shape)
    thr = per_chip * chips * model["seq_len"] / it
    base = thr[0] / chips[0]
    dp_s = np.broadcast_to(r["dp_comm_s"], chips.shape)
    sus = np.broadcast_to(r["model_flops"], chips.shape) / it / 1e15
    peak = system.peak[precision]
    points = []
    for n, t, s, d, f, p in zip(chips, thr, it, dp_s, fits, sus, strict=True):
        point: dict[str, Any] = {
            "chips": int(n),
            "tokens_per_s": float(t),
            "efficiency": float(t / (n * base)),
            "iteration_time_s": float(s),
            "dp_comm_s": float(d),
            "fits": bool(f),
            "sustained_pflops": float(p),
            "peak_pflops": float(n * peak / 1e15),
        }
        if not f:
            # It never ran: as for one llm-training layout, its timing is only what it would be.
            timing = [k for k in point if k not in ("chips", "fits", "peak_pflops")]
            point["would_be"] = {k: point[k] for k in timing}
            point.update(dict.fromkeys(timing))
        points.append(point)
    return {
        "kind": "llm-scaling",
        "hardware": system.id,
        "parameters_m": float(np.asarray(model_params(model))) / 1e6,
        "per_chip_batch": per_chip,
        "system_accelerators": int(system.n_accel) if np.isfinite(system.n_accel) else None,
        "system_peak_pflops": (
            float(system.n_accel * peak / 1e15) if np.isfinite(system.n_accel) else None
        ),
        "layout": f"data parallel, micro-batch {micro}, recompute {rc}",
        "fits": bool(fits.all()),
        "points": points,
        "chart": [
            {"chips": p["chips"], "efficiency": p["efficiency"]} for p in points if p["fits"]
        ],
    }
