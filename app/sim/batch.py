"""Evaluate many fixed-layout ``llm-training`` specs in vectorised calls of the training model.

Specs are parsed one by one with the model's own parsers (so every check and default is the
same as for one spec), grouped by what cannot vary inside one call of
:func:`app.sim.training.core` (the hardware after overrides, the precision and any other
non-numeric option), stacked into arrays and evaluated together. The result mappings are
built from whole arrays by :func:`_summaries`, the same arithmetic as the model's
:func:`~app.sim.training.summarize`; a few probe elements of every chunk are compared with
``summarize`` itself, and if one differs the chunk is summarised one by one. One spec's error
stays in its own entry.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from app.sim.errors import SpecError
from app.sim.hardware import System, resolve
from app.sim.limits import EVAL_CHUNK

Result = dict[str, Any]
Finish = Callable[[Result, Any, Any, bool], Result]


def vectorisable(spec: dict[str, Any]) -> bool:
    """Return whether a checked spec is a plain ``llm-training`` spec on a fixed layout."""
    return spec.get("kind") == "llm-training" and spec.get("parallelism") != "auto"


def _hardware_key(hw: Any) -> str:
    return hw if isinstance(hw, str) else json.dumps(hw, sort_keys=True)


_NUMBER_TYPES = frozenset((int, float, bool, np.float64, np.int64, np.bool_))


def _is_number(value: Any) -> bool:
    return type(value) in _NUMBER_TYPES


def _group_key(parts: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Return the non-numeric values of a parsed model or layout (they must match in a call)."""
    return tuple([(k, repr(v)) for k, v in parts.items() if type(v) not in _NUMBER_TYPES])


def _stack(rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = rows[0]
    return {
        k: np.array([r[k] for r in rows], dtype=float) if _is_number(v) else v
        for k, v in first.items()
    }


def evaluate_training_batch(
    items: list[tuple[int, dict[str, Any]]], finish: Finish
) -> Iterator[tuple[int, Result]]:
    """Yield ``(index, result or error)`` for each checked ``(index, spec)``.

    ``finish(result, compare, claims, numbers_checked)`` adds the claim comparisons and checks the result, as
    :func:`app.sim.api.evaluate` does for one spec.
    """
    from app.sim.spec import choice
    from app.sim.training import PRECISIONS, core, parse_layout, parse_model, summarize

    systems: dict[str, System] = {}
    groups: dict[Any, list[tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]]] = {}
    for i, spec in items:
        try:
            key = _hardware_key(spec["hardware"])
            system = systems.get(key)
            if system is None:
                system = systems[key] = resolve(spec["hardware"])
            model = parse_model(spec)
            precision = choice(spec, "precision", "", PRECISIONS, "bf16")
            lay = parse_layout(spec, model, system)
        except Exception as exc:  # reported in this spec's entry; never aborts the batch
            yield i, error_entry(exc)
            continue
        group = (key, precision, _group_key(model), _group_key(lay))
        groups.setdefault(group, []).append((i, spec, model, lay))

    for (key, precision, _, _), members in groups.items():
        system = systems[key]
        for start in range(0, len(members), EVAL_CHUNK):
            chunk = members[start : start + EVAL_CHUNK]
            if len(chunk) == 1:  # scalars, exactly as one spec alone is evaluated
                models, lays = chunk[0][2], chunk[0][3]
            else:
                models = _stack([m for _, _, m, _ in chunk])
                lays = _stack([lay for _, _, _, lay in chunk])
            try:
                r = core(system, models, lays, precision)
                fast = _summaries(system, models, lays, precision, r, len(chunk))
            except Exception as exc:  # the model failed for the whole group alike
                for i, *_ in chunk:
                    yield i, error_entry(exc)
                continue
            if not all(
                _same(fast[j], summarize, system, chunk[j][2], lays, precision, r, j)
                for j in _probes(fast)
            ):
                # The model's result mapping changed: build each one the slow, sure way.
                STATS["fallback"] += len(chunk)
                fast = [None] * len(chunk)
            else:
                STATS["vectorised"] += len(chunk)
            for j, (i, spec, model, _) in enumerate(chunk):
                try:
                    res = fast[j]
                    if res is None:
                        res = summarize(system, model, lays, precision, r, j)
                        yield i, finish(res, spec.get("compare"), spec.get("claims"), False)
                    else:
                        yield i, finish(res, spec.get("compare"), spec.get("claims"), True)
                except Exception as exc:  # reported in this spec's entry
                    yield i, error_entry(exc)


def _same(fast: Result | None, summarize: Callable[..., Result], *args: Any) -> bool:
    """Return whether a vectorised summary equals the model's own (a failure is a no)."""
    if fast is None:
        return True
    try:
        return fast == summarize(*args)
    except Exception:  # the element is then summarised, and its error reported, on its own
        return False


def _probes(fast: list[Result | None]) -> set[int]:
    """Return elements to compare with the model's summarize: the first, the last, and the
    first of each kind (fits or not, each bottleneck), where a result's shape could differ."""
    seen: dict[Any, int] = {}
    for j, res in enumerate(fast):
        if res is not None:
            seen.setdefault((res["fits"], res["bottleneck"]), j)
    return {0, len(fast) - 1, *seen.values()}


# Results built by the vectorised summary, and by the model's own summarize when they differ.
STATS = {"vectorised": 0, "fallback": 0}


def _summaries(
    system: System,
    model: dict[str, Any],
    lay: dict[str, Any],
    precision: str,
    r: dict[str, np.ndarray],
    n: int,
) -> list[Result | None]:
    """Return :func:`app.sim.training.summarize` of every element, computed on whole arrays.

    The arithmetic is the same, in the same order, so every number is bit-identical; an
    element with a non-finite number gets ``None`` (it is summarised and reported one by one).
    """
    from app.sim.training import BREAKDOWN, CATEGORIES, model_params

    def arr(x: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=float), (n,))

    it, acc, peak = arr(r["iteration_time_s"]), arr(r["n_acc"]), arr(r["peak"])
    model_tf = arr(r["model_flops"]) / (it * acc) / 1e12
    hw_tf = arr(r["hardware_flops"]) / (it * acc) / 1e12
    placed = np.asarray(r["placed"])
    tiers = [
        [arr(placed[ci, ti]) for ci in range(len(CATEGORIES))] for ti in range(len(system.tiers))
    ]
    memory = {
        "weights": arr(r["weights_bytes"]) / 1e9,
        "gradients": arr(r["gradients_bytes"]) / 1e9,
        "optimizer": arr(r["optimizer_bytes"]) / 1e9,
        "activations": arr(r["activations_bytes"]) / 1e9,
        "total": arr(r["total_bytes"]) / 1e9,
    }
    breakdown = {k[:-2]: arr(r[k]) for k in BREAKDOWN}
    names = list(breakdown)
    # argmax takes the first of equal maxima, as max() over the mapping does.
    bottleneck = [names[x] for x in np.argmax(np.stack(list(breakdown.values())), axis=0).tolist()]
    used = [np.asarray(sum(cats)) / 1e9 for cats in tiers]  # sum() from 0, as in summarize
    columns = {
        "parameters_b": arr(model_params(model)) / 1e9,
        "iteration_time_s": it,
        "tokens_per_s": arr(lay["global"]) * arr(model["seq_len"]) / it,
        "model_tflops_per_accelerator": model_tf,
        "hardware_tflops_per_accelerator": hw_tf,
        "mfu": model_tf * 1e12 / peak,
        "hfu": hw_tf * 1e12 / peak,
        "sustained_pflops": model_tf * acc / 1e3,
        "peak_pflops": peak * acc / 1e15,
        "power_kw": system.power_w_per_accel * acc / 1e3,
    }
    everything = [*columns.values(), *memory.values(), *breakdown.values(), *used]
    everything += [c / 1e9 for cats in tiers for c in cats]
    ok = np.logical_and.reduce([np.isfinite(a) for a in everything]).tolist()
    col = {k: v.tolist() for k, v in columns.items()}
    mem = {k: v.tolist() for k, v in memory.items()}
    brk = {k: v.tolist() for k, v in breakdown.items()}
    tier_used = [u.tolist() for u in used]
    tier_cats = [[(c / 1e9).tolist() for c in cats] for cats in tiers]
    fits = (arr(r["fits"]) > 0).tolist()
    n_acc = acc.astype(int).tolist()
    stages = np.asarray(r["stage_layers"])
    stage = {k: arr(stages[s]).tolist() for s, k in enumerate(("first", "busiest_middle", "last"))}
    layout = _layouts(lay, n)
    schedule = {
        "stack": str(lay.get("stack", "megatron-2021")),
        "from_stack_default": list(lay.get("overlap_from_stack", [])),
    }
    bounded = bool(np.isfinite(system.n_accel))
    system_peak = (peak * system.n_accel / 1e15).tolist() if bounded else [None] * n
    tier_meta = [
        (t.name, None if t.capacity == float("inf") else t.capacity / 1e9, t.bandwidth / 1e9)
        for t in system.tiers
    ]
    timing_keys = (
        "iteration_time_s",
        "tokens_per_s",
        "model_tflops_per_accelerator",
        "hardware_tflops_per_accelerator",
        "mfu",
        "hfu",
        "sustained_pflops",
    )
    out: list[Result | None] = []
    for j in range(n):
        if not ok[j]:
            out.append(None)
            continue
        timing: dict[str, Any] = {k: col[k][j] for k in timing_keys}
        timing["time_breakdown_s"] = {k: v[j] for k, v in brk.items()}
        timing["bottleneck"] = bottleneck[j]
        res: Result = {
            "kind": "llm-training",
            "hardware": system.id,
            "accelerator": system.accelerator,
            "num_accelerators": n_acc[j],
            "parameters_b": col["parameters_b"][j],
            "layout": layout[j],
            "stage_layers": {k: v[j] for k, v in stage.items()},
            "schedule": {k: copy.copy(v) for k, v in schedule.items()},
            "precision": precision,
            **(timing if fits[j] else dict.fromkeys(timing)),
            "peak_pflops": col["peak_pflops"][j],
            "system_accelerators": int(system.n_accel) if bounded else None,
            "system_peak_pflops": system_peak[j],
            "memory_per_accelerator_gb": {k: v[j] for k, v in mem.items()},
            "memory_tiers": [
                {
                    "tier": name,
                    "capacity_gb": cap,
                    "bandwidth_gbps": bw,
                    "used_gb": tier_used[ti][j],
                    "by_category_gb": {
                        cat: tier_cats[ti][ci][j] for ci, cat in enumerate(CATEGORIES)
                    },
                }
                for ti, (name, cap, bw) in enumerate(tier_meta)
            ],
            "fits": fits[j],
            "power_kw": col["power_kw"][j],
        }
        if not fits[j]:
            res["would_be"] = timing
        out.append(res)
    return out


def _layouts(lay: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Return :func:`app.sim.training._layout` of every element."""
    from app.sim.training import RECOMPUTE

    def col(k: str, default: float | None = None) -> list[float]:
        value = lay[k] if k in lay or default is None else default
        return np.broadcast_to(np.asarray(value, dtype=float), (n,)).tolist()

    ints = {k: [int(x) for x in col(k)] for k in ("tp", "pp", "dp", "interleave", "zero")}
    ints.update({k: [int(x) for x in col(k)] for k in ("micro", "global")})
    cp = [int(x) for x in col("cp", 1)]
    shard = [int(x) or d for x, d in zip(col("shard_group", 0), ints["dp"], strict=True)]
    sp, dp_ov = [bool(x) for x in col("sp")], [bool(x) for x in col("dp_overlap")]
    pg_ov = [bool(x) for x in col("param_gather_overlap", 0)]
    tp_ov = col("tp_overlap")
    names = {v: k for k, v in RECOMPUTE.items()}
    rc = [names[int(x)] for x in col("recompute")]
    return [
        {
            **{k: v[j] for k, v in ints.items()},
            "cp": cp[j],
            "shard_group": shard[j],
            "sequence_parallel": sp[j],
            "recompute": rc[j],
            "dp_overlap": dp_ov[j],
            "param_gather_overlap": pg_ov[j],
            "tp_overlap": tp_ov[j],
        }
        for j in range(n)
    ]


def error_entry(exc: Exception) -> Result:
    """Return the batch entry of a spec that failed: the SpecError, or the exception named."""
    if isinstance(exc, SpecError):
        return exc.to_dict()
    return {"error": f"spec: {type(exc).__name__}: {exc}", "field": "spec"}
