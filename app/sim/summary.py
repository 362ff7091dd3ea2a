"""The public result of the training model, computed for a whole batch on arrays.

:func:`summarize` turns a :func:`app.sim.training.core` result of ``n`` layouts into columns
and a skeleton of the result mapping (one for layouts that fit, one for those that do not);
from these come the mappings (:meth:`Summary.mappings`, :meth:`Summary.mapping`) or, for
``ledger bench run --json``, the JSON text of each result without building it
(:meth:`Summary.lines`). It is the only summary: one spec is a batch of one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import orjson

from app.sim.collectives import ALGORITHMS
from app.sim.hardware import System
from app.sim.training import BREAKDOWN, CATEGORIES, COLLECTIVE_KINDS, RECOMPUTE, model_params

Result = dict[str, Any]
Finish = Callable[[Result, Any, Any, bool], Result]
ToJson = Callable[[Result], bytes]


class _Col:
    """A per-element value in a result skeleton: column ``k`` of :class:`Summary`."""

    __slots__ = ("k",)

    def __init__(self, k: int) -> None:
        self.k = k


class Summary:
    """Every element's result mapping, as columns and skeletons.

    A skeleton is the result mapping of one element with a :class:`_Col` for every value that
    varies; there is one for layouts that fit and one for those that do not. Both back-ends
    (mappings, JSON lines) are made from the same skeletons.
    """

    columns: list[Any]  # arrays or lists, each n long
    fit: Result
    no_fit: Result
    ok: list[bool]  # every number finite
    fits: list[bool]
    bottleneck: list[str]
    iteration_time: np.ndarray
    total_gb: np.ndarray

    @cached_property
    def makers(self) -> tuple[Callable[..., Result], Callable[..., Result]]:
        """Return the functions filling in the skeletons."""
        return _compile(self.fit, len(self.columns)), _compile(self.no_fit, len(self.columns))

    def mappings(self) -> list[Result]:
        """Return each element's result mapping (one that is not ``ok`` holds its non-finite
        numbers: :func:`app.sim.api.check_finite` names them)."""
        if len(self.fits) < _COMPILE_FROM:
            return [self.mapping(j) for j in range(len(self.fits))]
        make_fit, make_no_fit = self.makers
        rows = zip(
            *(c.tolist() if isinstance(c, np.ndarray) else c for c in self.columns), strict=True
        )
        return [
            make_fit(*row) if fit else make_no_fit(*row)
            for fit, row in zip(self.fits, rows, strict=True)
        ]

    def mapping(self, j: int) -> Result:
        """Return element ``j``'s result mapping."""
        row = [c[j].item() if isinstance(c, np.ndarray) else c[j] for c in self.columns]
        out: Result = _filled(self.fit if self.fits[j] else self.no_fit, row)
        return out

    def lines(self, to_json: ToJson, finish: Finish) -> list[bytes | None]:
        """Return each element's finished result without comparisons as ``to_json`` writes it
        (``None`` where not ``ok``, or for all if a skeleton does not make a template)."""
        n = len(self.ok)
        fit = [j for j in range(n) if self.ok[j] and self.fits[j]]
        no_fit = [j for j in range(n) if self.ok[j] and not self.fits[j]]
        # Columns in that order, so that each skeleton's elements are one slice of them.
        order = fit + no_fit
        take = np.array(order, dtype=np.intp)
        tokens = [
            _tokens(c[take] if isinstance(c, np.ndarray) else list(map(c.__getitem__, order)))
            for c in self.columns
        ]
        out: list[bytes | None] = [None] * n
        start = 0
        for skeleton, members in ((self.fit, fit), (self.no_fit, no_fit)):
            if not members:
                continue
            template = _template(finish(_marked(skeleton), None, None, True), to_json)
            if template is None:
                return [None] * n
            segments, cols = template
            end = start + len(members)
            lines = _fill(segments, [tokens[k][start:end] for k in cols], len(members))
            for j, line in zip(members, lines, strict=True):
                out[j] = line
            start = end
        return out


# Compiling a skeleton costs about a millisecond; it pays from a few dozen results on.
_COMPILE_FROM = 32


def _filled(node: Any, row: list[Any]) -> Any:
    """Return a skeleton with the values of one element filled in (every list new)."""
    if isinstance(node, _Col):
        return row[node.k]
    if isinstance(node, dict):
        return {k: _filled(v, row) for k, v in node.items()}
    if isinstance(node, list):
        return [_filled(v, row) for v in node]
    return node


def _compile(skeleton: Result, n: int) -> Callable[..., Result]:
    """Return ``f(*column_values)`` giving the skeleton filled in: one nested display.

    It is compiled once per chunk, as namedtuple compiles its class, and builds a result in
    a fraction of the time of filling the mappings key by key; every list in it is new.
    """
    consts: dict[str, Any] = {}

    def code(node: Any) -> str:
        if isinstance(node, _Col):
            return f"c{node.k}"
        if isinstance(node, dict):
            return "{" + ", ".join(f"{code(k)}: {code(v)}" for k, v in node.items()) + "}"
        if isinstance(node, list):
            return "[" + ", ".join(code(v) for v in node) + "]"
        name = f"k{len(consts)}"
        consts[name] = node
        return name

    body = code(skeleton)
    return eval(f"lambda {', '.join(f'c{i}' for i in range(n))}: {body}", consts)


_MARK = re.compile(rb'"\\u0000(\d+)\\u0001"')


def _marked(node: Any) -> Any:
    """Return a copy of a skeleton with each column written as a marker string."""
    if isinstance(node, _Col):
        return f"\x00{node.k}\x01"
    if isinstance(node, dict):
        return {k: _marked(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_marked(v) for v in node]
    return node


def _template(marked: Result, to_json: ToJson) -> tuple[list[bytes], list[int]] | None:
    """Return the text of a marked skeleton as ``to_json`` writes it, cut at the markers,
    and the column of each cut; ``None`` if the text is not one line or holds a marker of its
    own."""
    text = to_json(marked)
    parts = _MARK.split(text)
    order = [int(k) for k in parts[1::2]]
    markers = text.count(b"\\u0000")
    if b"\n" in text or markers != len(order) or markers != _count_columns(marked):
        return None
    return parts[0::2], order


def _fill(segments: list[bytes], columns: list[list[bytes]], m: int) -> list[bytes]:
    """Return the ``m`` lines ``segments[0] + columns[0][e] + segments[1] + ...``.

    The pieces of all lines go into one list by slice assignment and are joined once: a few
    C-level passes instead of formatting each line.
    """
    width = len(segments) + len(columns)
    flat = [b""] * (width * m)
    for i, segment in enumerate(segments[:-1]):
        flat[2 * i :: width] = [segment] * m
    flat[width - 1 :: width] = [segments[-1] + b"\n"] * m
    for i, column in enumerate(columns):
        flat[2 * i + 1 :: width] = column
    return b"".join(flat).split(b"\n")[:-1]


def _count_columns(node: Any) -> int:
    if isinstance(node, dict):
        return sum(_count_columns(v) for v in node.values())
    if isinstance(node, list):
        return sum(_count_columns(v) for v in node)
    return int(isinstance(node, str) and node.startswith("\x00") and node.endswith("\x01"))


def _tokens(column: Any) -> list[bytes]:
    """Return each value of a column as orjson writes it (numbers never hold a comma)."""
    if isinstance(column, np.ndarray):
        text = orjson.dumps(np.ascontiguousarray(column), option=orjson.OPT_SERIALIZE_NUMPY)
        return text[1:-1].split(b",")
    if all(type(v) is str for v in column):
        words = {v: orjson.dumps(v) for v in set(column)}
        return [words[v] for v in column]
    return orjson.dumps(column)[1:-1].split(b",")


def summarize(
    system: System,
    model: dict[str, Any],
    lay: dict[str, Any],
    precision: str,
    r: dict[str, np.ndarray],
    n: int,
) -> Summary:
    """Return the result of every element of a :func:`app.sim.training.core` result ``r`` of
    ``n`` layouts, computed on whole arrays; an element with a non-finite number is not
    ``ok``."""

    def arr(x: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=float), (n,))

    out = Summary()
    out.columns = []

    def col(values: Any) -> _Col:
        out.columns.append(values)
        return _Col(len(out.columns) - 1)

    it, acc, peak = arr(r["iteration_time_s"]), arr(r["n_acc"]), arr(r["peak"])
    model_tf = arr(r["model_flops"]) / (it * acc) / 1e12
    hw_tf = arr(r["hardware_flops"]) / (it * acc) / 1e12
    model_tf_causal = arr(r["model_flops_causal"]) / (it * acc) / 1e12
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
    out.bottleneck = [
        names[x] for x in np.argmax(np.stack(list(breakdown.values())), axis=0).tolist()
    ]
    used = [np.asarray(sum(cats)) / 1e9 for cats in tiers]  # sum() from 0, as in summarize
    by_category = [[c / 1e9 for c in cats] for cats in tiers]
    columns = {
        "parameters_b": arr(model_params(model)) / 1e9,
        "iteration_time_s": it,
        "tokens_per_s": arr(lay["global"]) * arr(model["seq_len"]) / it,
        "model_tflops_per_accelerator": model_tf,
        "hardware_tflops_per_accelerator": hw_tf,
        "mfu": model_tf * 1e12 / peak,
        "hfu": hw_tf * 1e12 / peak,
        "model_tflops_per_accelerator_causal": model_tf_causal,
        "mfu_causal": model_tf_causal * 1e12 / peak,
        "sustained_pflops": model_tf * acc / 1e3,
        "peak_pflops": peak * acc / 1e15,
        "power_kw": system.power_w_per_accel * acc / 1e3,
    }
    everything = [*columns.values(), *memory.values(), *breakdown.values(), *used]
    everything += [c for cats in by_category for c in cats]
    out.ok = np.logical_and.reduce([np.isfinite(a) for a in everything]).tolist()
    out.fits = (arr(r["fits"]) > 0).tolist()
    out.iteration_time, out.total_gb = it, memory["total"]
    stages = np.asarray(r["stage_layers"])
    algorithm_names = (*ALGORITHMS, "none")  # index -1 (no such collective) is the last
    algorithms = np.asarray(r["collective_algorithms"]).astype(np.int64)
    bounded = bool(np.isfinite(system.n_accel))

    # The skeletons, keys in the order summarize and _layout write them.
    def ints(k: str, default: float | None = None) -> np.ndarray:
        value = lay[k] if k in lay or default is None else default
        return arr(value).astype(np.int64)  # truncates toward zero, as int() does

    def flags(k: str, default: float | None = None) -> np.ndarray:
        value = lay[k] if k in lay or default is None else default
        return arr(value) != 0  # as bool() does

    layout: Result = {k: col(ints(k)) for k in ("tp", "pp", "dp", "interleave", "zero")}
    layout.update({k: col(ints(k)) for k in ("micro", "global")})
    shard = ints("shard_group", 0)
    rc_names = {v: k for k, v in RECOMPUTE.items()}
    layout.update(
        {
            "cp": col(ints("cp", 1)),
            "shard_group": col(np.where(shard != 0, shard, ints("dp"))),  # int(x) or dp
            "sequence_parallel": col(flags("sp")),
            "recompute": col([rc_names[x] for x in ints("recompute").tolist()]),
            "dp_overlap": col(flags("dp_overlap")),
            "param_gather_overlap": col(flags("param_gather_overlap", 0)),
            "tp_overlap": col(arr(lay["tp_overlap"])),
        }
    )
    head: Result = {
        "kind": "llm-training",
        "hardware": system.id,
        "accelerator": system.accelerator,
        "num_accelerators": col(acc.astype(np.int64)),
        "parameters_b": col(columns["parameters_b"]),
        "layout": layout,
        "stage_layers": {
            k: col(arr(stages[s])) for s, k in enumerate(("first", "busiest_middle", "last"))
        },
        "schedule": {
            "stack": str(lay.get("stack", "megatron-2021")),
            "from_stack_default": list(lay.get("overlap_from_stack", [])),
        },
        "collective_algorithms": {
            kind: col([algorithm_names[x] for x in arr(algorithms[i]).astype(np.int64).tolist()])
            for i, kind in enumerate(COLLECTIVE_KINDS)
        },
        "precision": precision,
    }
    timing: Result = {
        k: col(columns[k])
        for k in (
            "iteration_time_s",
            "tokens_per_s",
            "model_tflops_per_accelerator",
            "hardware_tflops_per_accelerator",
            "mfu",
            "hfu",
            "model_tflops_per_accelerator_causal",
            "mfu_causal",
            "sustained_pflops",
        )
    }
    timing["time_breakdown_s"] = {k: col(v) for k, v in breakdown.items()}
    timing["bottleneck"] = col(out.bottleneck)
    tail: Result = {
        "peak_pflops": col(columns["peak_pflops"]),
        "system_accelerators": int(system.n_accel) if bounded else None,
        "system_peak_pflops": col(peak * system.n_accel / 1e15) if bounded else None,
        "memory_per_accelerator_gb": {k: col(v) for k, v in memory.items()},
        "memory_tiers": [
            {
                "tier": t.name,
                "capacity_gb": None if t.capacity == float("inf") else t.capacity / 1e9,
                "bandwidth_gbps": t.bandwidth / 1e9,
                "used_gb": col(used[ti]),
                "by_category_gb": {
                    cat: col(by_category[ti][ci]) for ci, cat in enumerate(CATEGORIES)
                },
            }
            for ti, t in enumerate(system.tiers)
        ],
    }
    power = col(columns["power_kw"])
    out.fit = {**head, **timing, **tail, "fits": True, "power_kw": power}
    # A layout that does not fit never ran: its timing is only what it would be.
    out.no_fit = {**head, **dict.fromkeys(timing), **tail, "fits": False, "power_kw": power}
    out.no_fit["would_be"] = timing
    return out
