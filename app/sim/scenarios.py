"""Scenarios: named workload specs in seed_data/workloads/*.yaml linked to capabilities and claims."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from app.sim import schema
from app.sim.compare import parse_compare
from app.sim.errors import SpecError
from app.sim.paths import seed_dir
from app.sim.spec import load_yaml


@lru_cache(maxsize=1)
def _all() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((seed_dir() / "workloads").glob("*.yaml")):
        doc = load_yaml(path.read_text())
        for sc in doc if isinstance(doc, list) else [doc]:
            if not isinstance(sc, dict) or "id" not in sc or "spec" not in sc:
                raise SpecError(f"workloads/{path.name}", "each scenario needs id and spec")
            try:
                schema.check(sc)
            except SpecError as exc:
                raise SpecError(f"workloads/{path.name}: {exc.field}", exc.message) from None
            parse_compare(sc.get("compare"), f"workloads/{path.name}: compare")
            out[str(sc["id"])] = {**sc, "compare": list(sc.get("compare") or [])}
    return out


def list_scenarios() -> list[dict[str, Any]]:
    """Return id, title, kind, capabilities and claims of every scenario."""
    return [
        {
            "id": sid,
            "title": sc.get("title", sid),
            "kind": sc["spec"].get("kind"),
            "capabilities": list(sc.get("capabilities", [])),
            "claims": list(sc.get("claims", [])),
            "compared_claims": sorted({str(c["claim"]) for c in sc["compare"]}),
        }
        for sid, sc in _all().items()
    ]


def load_scenario(scenario_id: str) -> dict[str, Any]:
    """Return one scenario (id, title, capabilities, claims, compare, spec); a copy."""
    sc = _all().get(scenario_id)
    if sc is None:
        raise SpecError("scenario", f"unknown scenario {scenario_id!r}")
    return copy.deepcopy(sc)
