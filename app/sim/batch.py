"""Evaluate many fixed-layout ``llm-training`` specs in vectorised calls of the training model.

The specs' fields are read column-wise (:func:`_parse_columns`): every check and default of the
model's own parsers (:func:`app.sim.training.parse_model`, :func:`~app.sim.training.parse_layout`)
applied to whole arrays. A spec any of those checks refuses, or whose values are not the plain
types a checked spec has, is parsed alone by the model's parsers, so its error is theirs. The
rest are grouped by what cannot vary inside one call of :func:`app.sim.training.core` (the
hardware after overrides, the precision, the training stack and which overlaps it decides),
stacked into arrays and evaluated together. The results are computed on whole arrays by
:func:`_summary`, the same arithmetic as the model's :func:`~app.sim.training.summarize`, into
columns and a skeleton of the result mapping; from these come either the mappings or, for
:func:`app.sim.api.evaluate_many_json`, the JSON text of each result without building it.
Probe elements of every chunk (the first, the last, one of each shape) are parsed and
summarised by the model itself and compared; if one differs the chunk goes the slow, sure way.
One spec's error stays in its own entry.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any

import numpy as np
import orjson

from app.sim.errors import SpecError
from app.sim.hardware import System, resolve
from app.sim.limits import EVAL_CHUNK

Result = dict[str, Any]
Finish = Callable[[Result, Any, Any, bool], Result]
ToJson = Callable[[Result], bytes]


def vectorisable(spec: dict[str, Any]) -> bool:
    """Return whether a checked spec is a plain ``llm-training`` spec on a fixed layout."""
    return spec.get("kind") == "llm-training" and spec.get("parallelism") != "auto"


def _hardware_key(hw: Any) -> str:
    if isinstance(hw, str):
        return hw
    try:  # orjson is ten times faster; the standard encoder takes what it refuses (big ints)
        return orjson.dumps(hw, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(hw, sort_keys=True)


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


_NONE = type(None)
_INTS: frozenset[type] = frozenset((int, _NONE))
_FLAGS: frozenset[type] = frozenset((bool, _NONE))
_NUMBERS: frozenset[type] = frozenset((int, float, _NONE))
# Larger integers go one by one: below this, every value, product of two and quotient the
# checks form is exact in float64, as it is in Python's integers.
_INT_MAX = 2.0**31
_OVERLAPS = ("dp_overlap", "param_gather_overlap", "tp_overlap")


class _Columns:
    """Parsed fields of many specs as float arrays, and which specs parsed cleanly (``ok``)."""

    ok: np.ndarray
    # Per spec: its group (hardware key, precision, stack, which overlap keys it gives) and its
    # shape (a bit per optional value left to its default).
    keys: list[tuple[str, str, str, tuple[bool, bool, bool]]]
    shapes: np.ndarray
    systems: dict[str, System]
    models: dict[str, np.ndarray]
    lays: dict[str, np.ndarray]

    def model(self, idx: np.ndarray) -> dict[str, Any]:
        """Return the parsed models of specs ``idx``, as :func:`parse_model` keys them."""
        return {k: v[idx] for k, v in self.models.items()}

    def layout(self, idx: np.ndarray, key: tuple[str, str, str, Any]) -> dict[str, Any]:
        """Return the parsed layouts of specs ``idx`` of one group, as :func:`parse_layout`."""
        from app.sim.training import stack_defaults

        _, precision, stack, given = key
        dflt = stack_defaults(stack, precision)
        c = {k: v[idx] for k, v in self.lays.items()}
        zero, n = c["zero"], len(idx)
        dp_ov_default = np.where(zero >= 3, 1.0, float(bool(dflt["dp_overlap"])))
        return {
            "tp": c["tp"],
            "cp": c["cp"],
            "pp": c["pp"],
            "dp": c["dp"],
            "interleave": c["interleave"],
            "zero": zero,
            "shard_group": c["shard_group"],
            "sp": c["sp"],
            "micro": c["micro"],
            "global": c["global"],
            "recompute": c["recompute"],
            "dp_overlap": _default(c["dp_overlap"], dp_ov_default),
            "param_gather_overlap": _default(
                c["param_gather_overlap"], float(bool(dflt["param_gather_overlap"]))
            ),
            "tp_overlap": _default(c["tp_overlap"], dflt["tp_overlap"]),
            "grad_bytes": np.full(n, dflt["grad_bytes"]),
            "dropout": np.full(n, dflt["dropout"]),
            "stack": stack,
            "overlap_from_stack": [k for k, g in zip(_OVERLAPS, given, strict=True) if not g],
        }


def _default(values: np.ndarray, default: Any) -> np.ndarray:
    """Return ``values`` with the absent ones (NaN) replaced by ``default``."""
    return np.where(np.isnan(values), default, values)


def _sections(specs: list[dict[str, Any]], key: str, ok: np.ndarray) -> list[dict[str, Any]]:
    """Return each spec's ``key`` mapping (empty if absent, as :func:`spec.section` reads it)."""
    rows: list[Any] = [s.get(key) for s in specs]
    if set(map(type, rows)) != {dict}:
        for j, row in enumerate(rows):
            if row is None:
                rows[j] = {}
            elif type(row) is not dict:
                ok[j], rows[j] = False, {}
    return rows


def _numbers(
    rows: list[dict[str, Any]], key: str, types: frozenset[type], ok: np.ndarray
) -> np.ndarray:
    """Return ``row[key]`` of every row as floats, NaN where absent or null (the default).

    A value of another type, a non-finite float or a large integer clears the row's ``ok``.
    """
    col: list[Any] = [r.get(key) for r in rows]
    kinds = set(map(type, col))
    if not kinds <= types or float in kinds:
        for j, v in enumerate(col):
            t = type(v)
            if t not in types or (t is float and not math.isfinite(v)):
                ok[j], col[j] = False, None
    try:
        out = np.array(col, dtype=float)
    except OverflowError:  # an integer beyond float64
        for j, v in enumerate(col):
            if type(v) is int and abs(v) >= _INT_MAX:
                ok[j], col[j] = False, None
        out = np.array(col, dtype=float)
    ok[np.abs(out) >= _INT_MAX] = False
    return out


def _choices(
    rows: list[dict[str, Any]],
    key: str,
    options: tuple[str, ...],
    default: str,
    ok: np.ndarray,
    absent: list[np.ndarray],
) -> list[str]:
    """Return ``row[key]`` of every row, ``default`` where absent or null (as :func:`choice`).

    Appends to ``absent`` where the default was taken.
    """
    col: list[Any] = [r.get(key) for r in rows]
    allowed = {*options, None}
    if not set(map(type, col)) <= {str, _NONE} or not set(col) <= allowed:
        for j, v in enumerate(col):
            if v is not None and (type(v) is not str or v not in allowed):
                ok[j], col[j] = False, None
    if None in col:
        absent.append(np.array([v is None for v in col]))
        col = [default if v is None else v for v in col]
    return col


def _parse_columns(specs: list[dict[str, Any]]) -> _Columns:
    """Parse many checked specs column-wise, with every check of the model's parsers.

    The checks and defaults are those of :func:`app.sim.training.parse_model`, the precision's
    :func:`app.sim.spec.choice` and :func:`app.sim.training.parse_layout`, in whole arrays; a
    spec any of them refuses is marked not ``ok`` (its error comes from parsing it alone).
    """
    from app.sim.training import PRECISIONS, RECOMPUTE, STACKS

    n = len(specs)
    cols = _Columns()
    ok = np.ones(n, dtype=bool)
    absent: list[np.ndarray] = []  # where each optional value took its default

    def optional(rows: list[dict[str, Any]], key: str, types: frozenset[type]) -> np.ndarray:
        values = _numbers(rows, key, types, ok)
        absent.append(np.isnan(values))
        return values

    def choose(rows: list[Any], key: str, options: tuple[str, ...], default: str) -> list[str]:
        return _choices(rows, key, options, default, ok, absent)

    model = _sections(specs, "model", ok)
    par = _sections(specs, "parallelism", ok)
    bat = _sections(specs, "batch", ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        # ---- parse_model ----
        layers, hidden, heads, seq = (
            _numbers(model, k, _INTS, ok) for k in ("layers", "hidden", "heads", "seq_len")
        )
        kv = _default(optional(model, "kv_heads", _INTS), heads)
        ffn = _default(optional(model, "ffn_hidden", _INTS), 4 * hidden)
        vocab = _default(optional(model, "vocab", _INTS), 51200.0)
        gated = [v == "swiglu" for v in choose(model, "mlp", ("gelu", "swiglu"), "gelu")]
        flash = [
            v == "flash" for v in choose(model, "attention", ("standard", "flash"), "standard")
        ]
        # NaN (a required value absent) fails every comparison, so such a spec is not ok.
        ok &= (layers >= 1) & (hidden >= 1) & (heads >= 1) & (seq >= 1) & (ffn >= 1)
        ok &= (vocab >= 1) & (kv >= 1) & (kv <= heads)
        ok &= (hidden % heads == 0) & (heads % kv == 0)
        cols.models = {
            "layers": layers,
            "hidden": hidden,
            "heads": heads,
            "kv_heads": kv,
            "ffn_hidden": ffn,
            "seq_len": seq,
            "vocab": vocab,
            "gated": np.array(gated, dtype=float),
            "flash": np.array(flash, dtype=float),
        }
        precision = choose(specs, "precision", PRECISIONS, "bf16")

        # ---- parse_layout ----
        stack = choose(specs, "stack", STACKS, "megatron-2021")
        tp, cp, pp, dp, v = (
            _default(optional(par, k, _INTS), 1.0) for k in ("tp", "cp", "pp", "dp", "interleave")
        )
        fsdp = np.array([s == "fsdp" for s in stack])
        zero = _default(optional(par, "zero", _INTS), np.where(fsdp, 3.0, 0.0))
        shard = _default(optional(par, "shard_group", _INTS), dp)
        micro = _default(optional(bat, "micro", _INTS), 1.0)
        glob = _default(optional(bat, "global", _INTS), micro * dp)
        rc = choose(specs, "recompute", tuple(RECOMPUTE), "none")
        sp = _default(optional(par, "sequence_parallel", _FLAGS), 0.0)
        tp_ov = optional(par, "tp_overlap", _NUMBERS)
        ok &= (tp >= 1) & (cp >= 1) & (pp >= 1) & (dp >= 1) & (v >= 1) & (shard >= 1)
        ok &= (zero >= 0) & (zero <= 3) & (micro >= 1) & (glob >= 1)
        ok &= np.isnan(tp_ov) | ((tp_ov >= 0) & (tp_ov <= 1))
        ok &= heads % tp == 0
        ok &= pp * v <= layers + 2
        ok &= (cp == 1) | (seq % (2 * cp) == 0)
        ok &= dp % shard == 0
        ok &= glob % (micro * dp) == 0
        m = glob // (micro * dp)
        ok &= (v == 1) | ((pp > 1) & (m % pp == 0))
        n_acc = tp * cp * pp * dp
        ok &= n_acc <= 2.0**50  # exact in float64, as Python's integer product is
        cols.lays = {
            "tp": tp,
            "cp": cp,
            "pp": pp,
            "dp": dp,
            "interleave": v,
            "zero": zero,
            "shard_group": shard,
            "sp": ((sp > 0) & (tp > 1)).astype(float),
            "micro": micro,
            "global": glob,
            "recompute": np.array([RECOMPUTE[x] for x in rc], dtype=float),
            "dp_overlap": optional(par, "dp_overlap", _FLAGS),
            "param_gather_overlap": optional(par, "param_gather_overlap", _FLAGS),
            "tp_overlap": tp_ov,
        }

    # ---- the hardware: resolved once per distinct value; the layout must fit in it ----
    hardware = [s.get("hardware") for s in specs]
    hw_keys = [h if type(h) is str else _key_or_blank(h) for h in hardware]
    cols.systems = {}
    n_accel_of: dict[str, float] = {"": -1.0}  # hardware without a key: parsed alone
    for j, key in enumerate(hw_keys):
        if key in n_accel_of:
            continue
        try:
            cols.systems[key] = resolve(hardware[j])
            n_accel_of[key] = cols.systems[key].n_accel
        except Exception:  # reported when the spec is parsed alone
            n_accel_of[key] = -1.0
    ok &= n_acc <= np.array([n_accel_of[k] for k in hw_keys])

    given = [(_OVERLAPS[0] in p, _OVERLAPS[1] in p, _OVERLAPS[2] in p) for p in par]
    cols.keys = list(zip(hw_keys, precision, stack, given, strict=True))
    # Which defaults each spec took, as bits: parses of different shapes differ most.
    cols.shapes = np.zeros(n, dtype=np.int64)
    for bit, mask in enumerate(absent):
        cols.shapes |= mask.astype(np.int64) << bit
    cols.ok = ok
    return cols


def _key_or_blank(hw: Any) -> str:
    try:
        return _hardware_key(hw)
    except Exception:  # not a value a checked spec holds; reported when parsed alone
        return ""


def evaluate_training_batch(
    items: list[tuple[int, dict[str, Any]]], finish: Finish, to_json: ToJson | None = None
) -> Iterator[tuple[int, Result | bytes]]:
    """Yield ``(index, result or error)`` for each checked ``(index, spec)``.

    ``finish(result, compare, claims, numbers_checked)`` adds the claim comparisons and checks
    the result, as :func:`app.sim.api.evaluate` does for one spec. With ``to_json``, a result
    may come as the bytes ``to_json`` would give it, written from the arrays directly.
    """
    specs = [spec for _, spec in items]
    cols = _parse_columns(specs)
    slow: list[int] = np.flatnonzero(~cols.ok).tolist()
    groups: dict[Any, list[int]] = {}
    for j in np.flatnonzero(cols.ok).tolist():
        groups.setdefault(cols.keys[j], []).append(j)
    for key, members in groups.items():
        if len(members) == 1:  # alone, exactly as one spec is evaluated
            slow += members
            continue
        system, precision = cols.systems[key[0]], key[1]
        for start in range(0, len(members), EVAL_CHUNK):
            chunk = members[start : start + EVAL_CHUNK]
            idx = np.array(chunk)
            models, lays = cols.model(idx), cols.layout(idx, key)
            parsed: dict[int, dict[str, Any]] = {}
            if all(
                _parse_agrees(specs[chunk[pos]], system, models, lays, pos, parsed)
                for pos in _parse_probes(cols, chunk)
            ):
                yield from _evaluate_chunk(
                    items, specs, chunk, system, models, lays, precision, parsed, finish, to_json
                )
            else:  # the model's parsers changed: parse each spec the slow, sure way
                STATS["fallback"] += len(chunk)
                slow += chunk
    if slow:
        slow.sort()
        yield from _evaluate_one_by_one([items[j] for j in slow], finish)


def _parse_agrees(
    spec: dict[str, Any],
    system: System,
    models: dict[str, Any],
    lays: dict[str, Any],
    pos: int,
    parsed: dict[int, dict[str, Any]],
) -> bool:
    """Return whether the model's parsers read element ``pos`` as the columns do (keeps the
    parsed model in ``parsed``); a parser's error is a no."""
    from app.sim.training import parse_layout, parse_model

    try:
        model = parsed[pos] = parse_model(spec)
        return model == _element(models, pos) and parse_layout(spec, model, system) == _element(
            lays, pos
        )
    except Exception:  # the spec is then parsed alone, and its error reported
        return False


def _element(columns: dict[str, Any], j: int) -> dict[str, Any]:
    """Return element ``j`` of stacked columns (other values as they are)."""
    return {k: v[j] if isinstance(v, np.ndarray) else v for k, v in columns.items()}


def _parse_probes(cols: _Columns, chunk: list[int]) -> list[int]:
    """Return chunk positions whose parse is compared with the model's parsers: the first, the
    last and the first of each shape (which defaults a spec took)."""
    _, first = np.unique(cols.shapes[chunk], return_index=True)
    return sorted({0, len(chunk) - 1, *first.tolist()})


def _evaluate_chunk(
    items: list[tuple[int, dict[str, Any]]],
    specs: list[dict[str, Any]],
    chunk: list[int],
    system: System,
    models: dict[str, Any],
    lays: dict[str, Any],
    precision: str,
    parsed: dict[int, dict[str, Any]],
    finish: Finish,
    to_json: ToJson | None,
) -> Iterator[tuple[int, Result | bytes]]:
    """Evaluate one chunk of parsed specs in one vectorised call; yield each entry."""
    from app.sim.training import core, parse_model, summarize

    try:
        r = core(system, models, lays, precision)
        summary = _summary(system, models, lays, precision, r, len(chunk))
        fast = summary.mappings() if to_json is None else None
    except Exception as exc:  # the model failed for the whole group alike
        for j in chunk:
            yield items[j][0], error_entry(exc)
        return
    lines: list[bytes | None] = [None] * len(chunk)
    if to_json is not None:
        try:
            lines = summary.lines(to_json, finish)
        except Exception:  # the results are then built as mappings and written one by one
            STATS["fallback"] += len(chunk)

    def model_of(pos: int) -> dict[str, Any]:
        if pos not in parsed:
            parsed[pos] = parse_model(specs[chunk[pos]])
        return parsed[pos]

    def mapping(pos: int) -> Result | None:
        return fast[pos] if fast is not None else summary.mapping(pos)

    # Mappings are made (and so checked) only where there is no line: a spec with
    # comparisons, or a result that is not finite.
    need_mappings = to_json is None or any(
        (line is None and good) or specs[j].get("compare") is not None
        for line, good, j in zip(lines, summary.ok, chunk, strict=True)
    )

    def agrees(pos: int) -> bool:
        args = (system, model_of(pos), lays, precision, r, pos)
        if need_mappings and not _same(mapping(pos), summarize, *args):
            return False
        line = lines[pos]
        return (
            line is None or to_json is None or _same_line(line, to_json, finish, summarize, *args)
        )

    if all(agrees(pos) for pos in _probes(summary)):
        STATS["vectorised"] += len(chunk)
        sure = True
    else:  # the model's result mapping changed: build each one the slow, sure way
        STATS["fallback"] += len(chunk)
        sure = False
    for pos, j in enumerate(chunk):
        i, spec = items[j]
        try:
            compare = spec.get("compare")
            line = lines[pos]
            if sure and line is not None and compare is None:
                yield i, line
                continue
            res = mapping(pos) if sure else None
            if res is None:
                res = summarize(system, model_of(pos), lays, precision, r, pos)
                yield i, finish(res, compare, spec.get("claims"), False)
            else:
                yield i, finish(res, compare, spec.get("claims"), True)
        except Exception as exc:  # reported in this spec's entry
            yield i, error_entry(exc)


def _evaluate_one_by_one(
    items: list[tuple[int, dict[str, Any]]], finish: Finish
) -> Iterator[tuple[int, Result]]:
    """Yield ``(index, result or error)`` for specs parsed one by one by the model's parsers.

    Parsed specs are still grouped and evaluated in vectorised calls.
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
                summary = _summary(system, models, lays, precision, r, len(chunk))
                fast = summary.mappings()
            except Exception as exc:  # the model failed for the whole group alike
                for i, *_ in chunk:
                    yield i, error_entry(exc)
                continue
            if not all(
                _same(fast[j], summarize, system, chunk[j][2], lays, precision, r, j)
                for j in _probes(summary)
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


def _same_line(
    line: bytes, to_json: ToJson, finish: Finish, summarize: Callable[..., Result], *args: Any
) -> bool:
    """Return whether a JSON line equals the model's own result, finished and written."""
    try:
        return line == to_json(finish(summarize(*args), None, None, False))
    except Exception:  # the element is then summarised, and its error reported, on its own
        return False


def _probes(summary: _Summary) -> set[int]:
    """Return elements to compare with the model's summarize: the first, the last, and the
    first of each kind (fits or not, each bottleneck), where a result's shape could differ."""
    seen: dict[Any, int] = {}
    for j, (good, fits, bottleneck) in enumerate(
        zip(summary.ok, summary.fits, summary.bottleneck, strict=True)
    ):
        if good:
            seen.setdefault((fits, bottleneck), j)
    return {0, len(summary.ok) - 1, *seen.values()}


# Results built by the vectorised parse and summary, and those parsed or summarised one by one
# by the model's own functions because a probe differed.
STATS = {"vectorised": 0, "fallback": 0}


class _Col:
    """A per-element value in a result skeleton: column ``k`` of :class:`_Summary`."""

    __slots__ = ("k",)

    def __init__(self, k: int) -> None:
        self.k = k


class _Summary:
    """Every element's :func:`app.sim.training.summarize` result, as columns and skeletons.

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

    @cached_property
    def makers(self) -> tuple[Callable[..., Result], Callable[..., Result]]:
        """Return the functions filling in the skeletons."""
        return _compile(self.fit, len(self.columns)), _compile(self.no_fit, len(self.columns))

    def mappings(self) -> list[Result | None]:
        """Return each element's result mapping (``None`` where not ``ok``)."""
        make_fit, make_no_fit = self.makers
        rows = zip(
            *(c.tolist() if isinstance(c, np.ndarray) else c for c in self.columns), strict=True
        )
        return [
            None if not good else make_fit(*row) if fit else make_no_fit(*row)
            for good, fit, row in zip(self.ok, self.fits, rows, strict=True)
        ]

    def mapping(self, j: int) -> Result | None:
        """Return element ``j``'s result mapping (``None`` where not ``ok``)."""
        if not self.ok[j]:
            return None
        row = [c[j].item() if isinstance(c, np.ndarray) else c[j] for c in self.columns]
        make_fit, make_no_fit = self.makers
        return make_fit(*row) if self.fits[j] else make_no_fit(*row)

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


def _summary(
    system: System,
    model: dict[str, Any],
    lay: dict[str, Any],
    precision: str,
    r: dict[str, np.ndarray],
    n: int,
) -> _Summary:
    """Return :func:`app.sim.training.summarize` of every element, computed on whole arrays.

    The arithmetic is the same, in the same order, so every number is bit-identical; an
    element with a non-finite number is not ``ok`` (it is summarised and reported alone).
    """
    from app.sim.training import BREAKDOWN, CATEGORIES, RECOMPUTE, model_params

    def arr(x: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=float), (n,))

    out = _Summary()
    out.columns = []

    def col(values: Any) -> _Col:
        out.columns.append(values)
        return _Col(len(out.columns) - 1)

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
        "sustained_pflops": model_tf * acc / 1e3,
        "peak_pflops": peak * acc / 1e15,
        "power_kw": system.power_w_per_accel * acc / 1e3,
    }
    everything = [*columns.values(), *memory.values(), *breakdown.values(), *used]
    everything += [c for cats in by_category for c in cats]
    out.ok = np.logical_and.reduce([np.isfinite(a) for a in everything]).tolist()
    out.fits = (arr(r["fits"]) > 0).tolist()
    stages = np.asarray(r["stage_layers"])
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


def error_entry(exc: Exception) -> Result:
    """Return the batch entry of a spec that failed: the SpecError, or the exception named."""
    if isinstance(exc, SpecError):
        return exc.to_dict()
    return {"error": f"spec: {type(exc).__name__}: {exc}", "field": "spec"}
