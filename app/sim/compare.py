"""Per-claim comparisons: how a result bears on the claims a scenario names.

A scenario (or a spec) carries ``compare: [{claim, field, scale, unit, relation, tolerance,
note}]``. For each row the claimed figure comes from ``seed_data/claims.yaml`` (or from
``claims: [{slug, value, unit}]`` in the spec), the simulated value is ``result[field] x scale``
and the verdict is ``consistent`` / ``contradicts`` for ``==``, ``<=``, ``>=`` (beyond the
tolerance) or ``finding`` for ``info`` (a prediction shown beside the claim, never a test of it).

Each row says its ``role``: ``predicted`` (an output of the model: sustained throughput, scaling
efficiency, whether a model fits) or ``assumed`` (the claimed figure is one of the model's
inputs, or plain arithmetic on them). A comparison with an assumed figure only echoes the input:
its verdict is ``assumed``, never ``consistent``. A predicted row may name the ``assumption``
under which alone it holds; then a match is ``inconclusive`` under that assumption.

``field`` is a dotted path into the result; list items are addressed as ``points[-1]`` or
``memory_tiers[tier=sram]``. ``note`` may quote result values as ``{field}`` or ``{field:.3g}``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from app.sim.claimed import claim_figures
from app.sim.consistency import UNITS
from app.sim.errors import SpecError
from app.sim.notes import MAX_FORMATTED_CHARS, NOTE_REF, note_problem

RELATIONS = ("==", "<=", ">=", "info")
ROLES = ("predicted", "assumed")
# What a comparison can say about its claim. Only the first two test it.
VERDICTS = ("consistent", "contradicts", "inconclusive", "finding", "assumed")
DEFAULT_TOLERANCE = 0.05

_MISSING = object()
_STEP = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


def _spec_claims(claims: Any) -> dict[str, dict[str, Any]]:
    """Claims passed in a spec as ``[{slug, value, unit}]`` (lists of plain slugs are ignored)."""
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(claims, list):
        return out
    for c in claims:
        if isinstance(c, dict) and c.get("slug") and c.get("value") is not None:
            out[str(c["slug"])] = {"value": c["value"], "unit": str(c.get("unit") or "")}
    return out


def resolve_field(result: Any, path: str) -> Any:
    """Follow a dotted path (``a.b[-1].c``, ``tiers[tier=sram].gb``); raise KeyError if absent."""
    cur = result
    pos = 0
    path = path.strip()
    while pos < len(path):
        if path[pos] == ".":
            pos += 1
            continue
        m = _STEP.match(path, pos)
        if m is None:
            raise KeyError(path)
        pos = m.end()
        key, sel = m.group(1), m.group(2)
        if key is not None:
            if isinstance(cur, dict) and key in cur:
                cur = cur[key]
            elif isinstance(cur, list) and re.fullmatch(r"-?\d+", key):
                cur = _index(cur, int(key), path)
            else:
                raise KeyError(path)
        elif isinstance(cur, list) and re.fullmatch(r"-?\d+", sel.strip()):
            cur = _index(cur, int(sel), path)
        elif isinstance(cur, list) and "=" in sel:
            k, v = (s.strip() for s in sel.split("=", 1))
            hit = [x for x in cur if isinstance(x, dict) and str(x.get(k)) == v]
            if not hit:
                raise KeyError(path)
            cur = hit[0]
        elif isinstance(cur, dict) and sel in cur:
            cur = cur[sel]
        else:
            raise KeyError(path)
    return cur


def _index(items: list[Any], i: int, path: str) -> Any:
    if -len(items) <= i < len(items):
        return items[i]
    raise KeyError(path)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def _unit_key(u: str) -> str:
    return u.strip().lower().replace(" ", "")


def _claimed_in(unit: str, fig: dict[str, Any]) -> float | None:
    """The claimed value expressed in ``unit``; None when the units are not comparable."""
    cu = fig["unit"]
    if _unit_key(cu) == _unit_key(unit):
        return float(fig["value"])
    a, b = UNITS.get(_unit_key(cu)), UNITS.get(_unit_key(unit))
    if a is None or b is None or a[0] != b[0]:
        return None
    return float(fig["value"]) * a[1] / b[1]


def _format_note(note: str, result: dict[str, Any], field: str) -> str:
    problem = note_problem(note)
    if problem:
        raise SpecError(field, problem)

    def sub(m: re.Match[str]) -> str:
        try:
            val = resolve_field(result, m.group(1))
        except KeyError:
            raise SpecError(field, f"{m.group(1)!r} is not in the result") from None
        fmt = m.group(2)
        if fmt is None:
            if isinstance(val, float):
                return f"{val:.3g}"
            return str(val)
        try:
            return format(val, fmt)
        except (ValueError, TypeError):
            raise SpecError(field, f"cannot format {m.group(1)!r} as {fmt!r}") from None

    text = NOTE_REF.sub(sub, note)
    if len(text) > MAX_FORMATTED_CHARS:
        return text[: MAX_FORMATTED_CHARS - 1] + "…"
    return text


def parse_compare(compare: Any, prefix: str = "compare") -> list[dict[str, Any]]:
    """Validate the shape of a ``compare`` list (fields are checked against a result later)."""
    if compare is None:
        return []
    if not isinstance(compare, list):
        raise SpecError(prefix, "must be a list of {claim, field, scale, unit, relation, note}")
    rows = []
    for i, row in enumerate(compare):
        p = f"{prefix}[{i}]"
        if not isinstance(row, dict):
            raise SpecError(p, "must be a mapping")
        for key in ("claim", "field"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise SpecError(f"{p}.{key}", "is required (a string)")
        rel = row.get("relation", "==")
        if rel not in RELATIONS:
            raise SpecError(f"{p}.relation", f"must be one of {', '.join(RELATIONS)}")
        scale = row.get("scale", 1.0)
        if _number(scale) is None or isinstance(scale, bool):
            raise SpecError(f"{p}.scale", "must be a finite number")
        tol = row.get("tolerance", DEFAULT_TOLERANCE)
        if _number(tol) is None or isinstance(tol, bool) or float(tol) < 0:
            raise SpecError(f"{p}.tolerance", "must be a number >= 0")
        role = row.get("role", "predicted")
        if role not in ROLES:
            raise SpecError(f"{p}.role", f"must be one of {', '.join(ROLES)}")
        assumption = str(row.get("assumption") or "")
        if assumption and (role != "predicted" or rel == "info"):
            raise SpecError(f"{p}.assumption", "only a predicted test (==, <=, >=) holds under one")
        rows.append(
            {
                "claim": row["claim"].strip(),
                "field": row["field"].strip(),
                "scale": float(scale),
                "unit": str(row.get("unit") or ""),
                "relation": rel,
                "tolerance": float(tol),
                "note": str(row.get("note") or ""),
                "role": role,
                "assumption": assumption,
            }
        )
    return rows


def verdict_of(role: str, relation: str, holds: bool | None, assumption: str = "") -> str:
    """What a comparison says: an assumed figure is only echoed, an `info` row is a finding."""
    if role == "assumed":
        return "assumed"
    if relation == "info" or holds is None:
        return "finding"
    if not holds:
        return "contradicts"
    return "inconclusive" if assumption else "consistent"


def compare_result(
    result: dict[str, Any], compare: Any, claims: Any = None, prefix: str = "compare"
) -> list[dict[str, Any]]:
    """Return ``[{claim, claimed, simulated, unit, relation, verdict, rel_diff, note, ...}]``."""
    rows = parse_compare(compare, prefix)
    if not rows:
        return []
    given = _spec_claims(claims)
    figures = claim_figures()
    out = []
    for i, row in enumerate(rows):
        p = f"{prefix}[{i}]"
        slug = row["claim"]
        fig: dict[str, Any] | None
        if slug in given:
            fig = given[slug]
        elif slug in figures:
            fig = figures[slug]
        else:
            raise SpecError(f"{p}.claim", f"unknown claim {slug!r}")
        if fig is None:
            raise SpecError(f"{p}.claim", f"claim {slug!r} has no figure to compare with")
        try:
            raw = resolve_field(result, row["field"])
        except KeyError:
            raise SpecError(f"{p}.field", f"{row['field']!r} is not in the result") from None
        value = _number(raw)
        if value is None:
            raise SpecError(f"{p}.field", f"{row['field']!r} is not a finite number ({raw!r})")
        unit = row["unit"] or fig["unit"]
        simulated = value * row["scale"]
        claimed = _claimed_in(unit, fig)
        rel = row["relation"]
        if claimed is None and rel != "info":
            raise SpecError(f"{p}.unit", f"{unit!r} cannot be compared with {fig['unit']!r}")
        rel_diff = (simulated - claimed) / claimed if claimed else None
        tol = row["tolerance"]
        holds: bool | None
        if rel == "info" or claimed is None:
            holds = None
        elif rel == "==":
            holds = abs(rel_diff) <= tol if rel_diff is not None else simulated == claimed
        elif rel == "<=":
            holds = simulated <= claimed * (1 + tol)
        else:
            holds = simulated >= claimed * (1 - tol)
        verdict = verdict_of(row["role"], rel, holds, row["assumption"])
        out.append(
            {
                "claim": slug,
                "claimed": claimed,
                "simulated": simulated,
                "unit": unit,
                "relation": rel,
                "verdict": verdict,
                "rel_diff": rel_diff,
                "tolerance": tol,
                "field": row["field"],
                "scale": row["scale"],
                "claimed_as": f"{fig['value']} {fig['unit']}".strip(),
                "note": _format_note(row["note"], result, f"{p}.note"),
                "role": row["role"],
                "assumption": row["assumption"] if verdict == "inconclusive" else "",
            }
        )
    return out


def checks_as_comparisons(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``checks`` of a consistency result in the comparison shape, in the claim's unit."""
    out = []
    for c in result.get("checks") or []:
        if not isinstance(c, dict) or c.get("verdict") not in VERDICTS:
            continue
        claimed, computed = c.get("claimed"), c.get("computed")
        unit, factor = c.get("unit", ""), 1.0
        # claimed_as is "<value> <unit as the claim states it>": report both numbers in that unit.
        value_s, _, claim_unit = str(c.get("claimed_as") or "").partition(" ")
        try:
            value = float(value_s)
        except ValueError:
            value = None
        if value and claimed:
            factor = float(claimed) / value
            unit = claim_unit or unit
        out.append(
            {
                "claim": c.get("slug"),
                "claimed": float(claimed) / factor if claimed is not None else None,
                "simulated": float(computed) / factor if computed is not None else None,
                "unit": unit,
                "relation": c.get("relation", "=="),
                "verdict": c["verdict"],
                "rel_diff": c.get("rel_diff"),
                "tolerance": result.get("tolerance"),
                "field": "checks",
                "claimed_as": c.get("claimed_as"),
                "note": c.get("formula", ""),
                "role": c.get("role", "predicted"),
                "assumption": c.get("assumption", ""),
            }
        )
    return out
