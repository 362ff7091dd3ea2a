"""The one parser of ``llm-training`` specs: column-wise, driven by one table of rules.

A batch of specs is read into float columns (absent values are NaN until their default is
filled in); every rule of :data:`RULES` is then checked on whole columns, and a spec's error is
the first rule it breaks, in table order. A single spec is a batch of one; the layout sweep
and the ``auto`` search filter their candidates with the same table (:func:`first_broken`).

The schema (:mod:`app.sim.schema`) has already checked each value's type and bounds; the
rules here are the ones that tie fields together (heads divisible by tp, a layout that fits
the machine) and the bounds again for specs built in code (calibration, studies).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from app.sim.errors import SpecError
from app.sim.hardware import System, resolve
from app.sim.training import PRECISIONS, RECOMPUTE, STACKS, stack_defaults

Cols = Mapping[str, np.ndarray]
OVERLAPS = ("dp_overlap", "param_gather_overlap", "tp_overlap")
# Numeric model fields; layers, hidden, heads and seq_len are required, the others default to
# heads (kv_heads), 4 x hidden (ffn_hidden) and 51,200 (vocab).
MODEL_KEYS = ("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "seq_len", "vocab")


def _n(x: float) -> Any:
    """Return a column value as the spec wrote it (an integer when it is one)."""
    return int(x) if float(x).is_integer() else float(x)


@dataclass(frozen=True)
class Rule:
    """One rule of a spec: the field it names, a vectorised check and the message."""

    field: str
    fields: tuple[str, ...]  # the columns it reads
    holds: Callable[[Cols], np.ndarray]
    message: Callable[[dict[str, Any]], str]
    model: bool = False  # a rule of the model section alone


def _at_least(key: str, col: str, lo: float, model: bool = False) -> Rule:
    return Rule(
        key,
        (col,),
        lambda c: c[col] >= lo,
        lambda v: f"must be >= {_n(lo)}, got {v[col]!r}",
        model,
    )


def _required(key: str, col: str) -> Rule:
    return Rule(key, (col,), lambda c: ~np.isnan(c[col]), lambda v: "is required", True)


RULES: tuple[Rule, ...] = (
    *(_required(f"model.{k}", k) for k in ("layers", "hidden", "heads", "seq_len")),
    *(_at_least(f"model.{k}", k, 1, True) for k in MODEL_KEYS),
    Rule(
        "model.kv_heads",
        ("kv_heads", "heads"),
        lambda c: c["kv_heads"] <= c["heads"],
        lambda v: f"must be <= {v['heads']}, got {v['kv_heads']!r}",
        True,
    ),
    Rule(
        "model.heads",
        ("hidden", "heads"),
        lambda c: c["hidden"] % c["heads"] == 0,
        lambda v: f"hidden {v['hidden']} is not divisible by heads {v['heads']}",
        True,
    ),
    Rule(
        "model.kv_heads",
        ("heads", "kv_heads"),
        lambda c: c["heads"] % c["kv_heads"] == 0,
        lambda v: f"heads {v['heads']} is not divisible by kv_heads {v['kv_heads']}",
        True,
    ),
    *(_at_least(f"parallelism.{k}", k, 1) for k in ("tp", "cp", "pp", "dp", "interleave")),
    _at_least("parallelism.zero", "zero", 0),
    Rule(
        "parallelism.zero",
        ("zero",),
        lambda c: c["zero"] <= 3,
        lambda v: f"must be <= 3, got {v['zero']!r}",
    ),
    _at_least("parallelism.shard_group", "shard_group", 1),
    _at_least("batch.micro", "micro", 1),
    _at_least("batch.global", "global", 1),
    Rule(
        "parallelism.tp_overlap",
        ("tp_overlap",),
        lambda c: (c["tp_overlap"] >= 0) & (c["tp_overlap"] <= 1),
        lambda v: f"must be between 0 and 1, got {v['tp_overlap']!r}",
    ),
    Rule(
        "parallelism.tp",
        ("heads", "tp"),
        lambda c: c["heads"] % c["tp"] == 0,
        lambda v: f"heads {v['heads']} not divisible by tp {v['tp']}",
    ),
    Rule(
        "parallelism.pp",
        ("pp", "interleave", "layers"),
        lambda c: c["pp"] * c["interleave"] <= c["layers"] + 2,
        lambda v: (
            f"pp*interleave = {v['pp'] * v['interleave']} virtual stages exceed "
            f"layers + 2 = {v['layers'] + 2}"
        ),
    ),
    Rule(
        "parallelism.cp",
        ("cp", "seq_len"),
        lambda c: (c["cp"] == 1) | (c["seq_len"] % (2 * c["cp"]) == 0),
        lambda v: (
            f"seq_len {v['seq_len']} is not divisible by 2*cp = {2 * v['cp']} "
            "(load-balanced causal chunks)"
        ),
    ),
    Rule(
        "parallelism.shard_group",
        ("dp", "shard_group"),
        lambda c: c["dp"] % c["shard_group"] == 0,
        lambda v: f"must divide dp = {v['dp']}, got {v['shard_group']}",
    ),
    Rule(
        "batch.global",
        ("global", "micro", "dp"),
        lambda c: c["global"] % (c["micro"] * c["dp"]) == 0,
        lambda v: f"{v['global']} not divisible by micro*dp = {v['micro'] * v['dp']}",
    ),
    Rule(
        "parallelism.interleave",
        ("interleave", "pp", "global", "micro", "dp"),
        lambda c: (
            (c["interleave"] == 1)
            | ((c["pp"] > 1) & ((c["global"] // (c["micro"] * c["dp"])) % c["pp"] == 0))
        ),
        lambda v: "needs pp > 1 and micro-batches divisible by pp",
    ),
    Rule(
        "parallelism",
        ("tp", "cp", "pp", "dp", "n_accel"),
        lambda c: c["tp"] * c["cp"] * c["pp"] * c["dp"] <= c["n_accel"],
        lambda v: (
            f"tp*cp*pp*dp = {v['tp'] * v['cp'] * v['pp'] * v['dp']} exceeds the "
            f"{v['n_accel']} accelerators of {v['hardware']}"
        ),
    ),
)
MODEL_RULES = tuple(r for r in RULES if r.model)


def first_broken(
    cols: Cols, rules: tuple[Rule, ...] | None = None, partial: bool = False
) -> np.ndarray:
    """Return, per element, the index in ``rules`` of the first rule broken (-1: none).

    ``partial``: check only the rules whose columns are all given (a search filters part of a
    layout before it builds the rest).
    """
    rules = RULES if rules is None else rules
    n = max(np.size(v) for v in cols.values())
    out = np.full(n, -1, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        for k, rule in enumerate(rules):
            if partial and not set(rule.fields) <= cols.keys():
                continue
            holds = rule.holds(cols)
            if holds.all():
                continue
            out[np.broadcast_to(~holds, (n,)) & (out < 0)] = k
    return out


def rule_error(
    rules: tuple[Rule, ...], k: int, cols: Cols, j: int, hardware: str = ""
) -> SpecError:
    """Return the SpecError of rule ``k`` for element ``j``."""
    values: dict[str, Any] = {
        name: _n(v[j]) if np.isfinite(v[j]) else None for name, v in cols.items()
    }
    values["hardware"] = hardware
    rule = rules[k]
    return SpecError(rule.field, rule.message(values))


def _column(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    """Return ``row[key]`` of every row as floats, NaN where absent or null."""
    return np.array([r.get(key) for r in rows], dtype=float)


def _section(spec: dict[str, Any], key: str) -> dict[str, Any]:
    val = spec.get(key)
    return val if isinstance(val, dict) else {}


def hardware_key(hw: Any) -> str:
    """Return a text key of a hardware value (an id, or the mapping as sorted JSON)."""
    if isinstance(hw, str):
        return hw
    try:  # orjson is ten times faster; the standard encoder takes what it refuses (big ints)
        return orjson.dumps(hw, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(hw, sort_keys=True, default=str)


def model_columns(specs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Return the ``model`` sections of ``specs`` as columns, defaults filled in."""
    rows = [_section(s, "model") for s in specs]
    c = {k: _column(rows, k) for k in MODEL_KEYS}
    c["kv_heads"] = np.where(np.isnan(c["kv_heads"]), c["heads"], c["kv_heads"])
    c["ffn_hidden"] = np.where(np.isnan(c["ffn_hidden"]), 4 * c["hidden"], c["ffn_hidden"])
    c["vocab"] = np.where(np.isnan(c["vocab"]), 51200.0, c["vocab"])
    c["gated"] = np.array([r.get("mlp") == "swiglu" for r in rows], dtype=float)
    c["flash"] = np.array([r.get("attention") == "flash" for r in rows], dtype=float)
    return c


def parse_model(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the ``model`` section of one spec (a batch of one), as plain numbers."""
    cols = model_columns([spec])
    broken = int(first_broken(cols, MODEL_RULES)[0])
    if broken >= 0:
        raise rule_error(MODEL_RULES, broken, cols, 0)
    out: dict[str, Any] = {k: int(v[0]) for k, v in cols.items() if k in MODEL_KEYS}
    out["gated"] = bool(cols["gated"][0])
    out["flash"] = bool(cols["flash"][0])
    return out


GroupKey = tuple[str, str, str, tuple[bool, bool, bool]]


@dataclass
class Parsed:
    """Many specs parsed: columns, each spec's group and error (``None`` when valid)."""

    models: dict[str, np.ndarray]
    lays: dict[str, np.ndarray]
    keys: list[GroupKey]
    systems: dict[str, System]
    errors: list[SpecError | None]

    def groups(self) -> dict[GroupKey, list[int]]:
        """Return the valid specs by what cannot vary in one call of the model: the hardware,
        the precision, the stack and which overlaps the spec gives."""
        out: dict[GroupKey, list[int]] = {}
        for j, (key, err) in enumerate(zip(self.keys, self.errors, strict=True)):
            if err is None:
                out.setdefault(key, []).append(j)
        return out

    def model(self, idx: np.ndarray) -> dict[str, Any]:
        """Return the models of specs ``idx`` (arrays)."""
        return {k: v[idx] for k, v in self.models.items()}

    def layout(self, idx: np.ndarray, key: GroupKey) -> dict[str, Any]:
        """Return the layouts of specs ``idx`` of one group (arrays, plus the stack's name and
        the overlap keys that took the stack's default)."""
        out: dict[str, Any] = {k: v[idx] for k, v in self.lays.items()}
        out["stack"] = key[2]
        out["overlap_from_stack"] = [k for k, g in zip(OVERLAPS, key[3], strict=True) if not g]
        return out


def parse(specs: list[dict[str, Any]]) -> Parsed:
    """Parse many ``llm-training`` specs at once (see the module's docstring)."""
    n = len(specs)
    models = model_columns(specs)
    pars = [_section(s, "parallelism") for s in specs]
    bats = [_section(s, "batch") for s in specs]
    precision = [s.get("precision") or "bf16" for s in specs]
    stack = [s.get("stack") or "megatron-2021" for s in specs]
    for j in range(n):
        if precision[j] not in PRECISIONS:
            precision[j] = "bf16"  # the schema refuses it first; never reached from the API
        if stack[j] not in STACKS:
            stack[j] = "megatron-2021"
    rc = [s.get("recompute") or "none" for s in specs]

    def col(rows: list[dict[str, Any]], key: str, default: Any) -> np.ndarray:
        values = _column(rows, key)
        return np.where(np.isnan(values), default, values)

    tp, cp, pp, dp, v = (col(pars, k, 1.0) for k in ("tp", "cp", "pp", "dp", "interleave"))
    fsdp = np.array([s.startswith("fsdp") for s in stack])
    zero = col(pars, "zero", np.where(fsdp, 3.0, 0.0))
    micro = col(bats, "micro", 1.0)
    defaults = {(s, p): stack_defaults(s, p) for s, p in set(zip(stack, precision, strict=True))}
    dflt = [defaults[(s, p)] for s, p in zip(stack, precision, strict=True)]

    def per_spec(key: str) -> np.ndarray:
        return np.array([d[key] for d in dflt], dtype=float)

    lays = {
        "tp": tp,
        "cp": cp,
        "pp": pp,
        "dp": dp,
        "interleave": v,
        "zero": zero,
        "shard_group": col(pars, "shard_group", dp),
        "sp": ((col(pars, "sequence_parallel", 0.0) > 0) & (tp > 1)).astype(float),
        "micro": micro,
        "global": col(bats, "global", micro * dp),
        "recompute": np.array([RECOMPUTE.get(x, -1) for x in rc], dtype=float),
        "dp_overlap": col(pars, "dp_overlap", np.maximum(per_spec("dp_overlap"), zero >= 3)),
        "param_gather_overlap": col(pars, "param_gather_overlap", per_spec("param_gather_overlap")),
        "tp_overlap": col(pars, "tp_overlap", per_spec("tp_overlap")),
        "p2p_overlap": per_spec("p2p_overlap"),
        "grad_bytes": per_spec("grad_bytes"),
        "dropout": per_spec("dropout"),
        "kernels_fwd": per_spec("kernels_fwd"),
        "kernels_bwd": per_spec("kernels_bwd"),
        "eager": per_spec("eager"),
    }
    # The hardware: resolved once per distinct value.
    hw_keys = [hardware_key(s.get("hardware")) for s in specs]
    systems: dict[str, System] = {}
    hw_errors: dict[str, SpecError] = {}
    for j, key in enumerate(hw_keys):
        if key not in systems and key not in hw_errors:
            try:
                systems[key] = resolve(specs[j].get("hardware"))
            except SpecError as exc:
                hw_errors[key] = exc
    n_accel = np.array([systems[k].n_accel if k in systems else np.nan for k in hw_keys])
    cols = {**models, **lays, "n_accel": n_accel}
    rules = RULES
    broken = first_broken(cols, rules)
    errors: list[SpecError | None] = [None] * n
    for j in range(n):
        if hw_keys[j] in hw_errors:
            errors[j] = hw_errors[hw_keys[j]]
        elif rc[j] not in RECOMPUTE:
            errors[j] = SpecError("recompute", f"must be one of {', '.join(RECOMPUTE)}")
        elif broken[j] >= 0:
            hw = systems[hw_keys[j]].id
            errors[j] = rule_error(rules, int(broken[j]), cols, j, hw)
    given = [(OVERLAPS[0] in p, OVERLAPS[1] in p, OVERLAPS[2] in p) for p in pars]
    keys = list(zip(hw_keys, precision, stack, given, strict=True))
    return Parsed(models, lays, keys, systems, errors)


def parse_one(spec: dict[str, Any]) -> tuple[System, dict[str, Any], dict[str, Any], str]:
    """Return the system, model, layout and precision of one spec (arrays of one); raises its
    error."""
    parsed = parse([spec])
    err = parsed.errors[0]
    if err is not None:
        raise err
    key = parsed.keys[0]
    idx = np.array([0])
    return parsed.systems[key[0]], parsed.model(idx), parsed.layout(idx, key), key[1]
