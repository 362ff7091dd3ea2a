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
            rows = parse_compare(sc.get("compare"), f"workloads/{path.name}: compare")
            _check_roles(sc, rows, f"workloads/{path.name}")
            out[str(sc["id"])] = {**sc, "compare": list(sc.get("compare") or [])}
    return out


def assumed_claims(sc: dict[str, Any]) -> list[str]:
    """The claimed figures a scenario takes as inputs: its `assumes` and its assumed rows."""
    found = list(sc.get("assumes") or [])
    for row in sc.get("compare") or []:
        if row.get("role") == "assumed" and row["claim"] not in found:
            found.append(row["claim"])
    return found


def predicted_claims(sc: dict[str, Any]) -> list[str]:
    """The claims a scenario's outputs bear on: tested, or shown beside them as findings."""
    found: list[str] = []
    for row in sc.get("compare") or []:
        if row.get("role", "predicted") == "predicted" and row["claim"] not in found:
            found.append(row["claim"])
    return found


def _check_roles(sc: dict[str, Any], rows: list[dict[str, Any]], where: str) -> None:
    """A bundled scenario declares what it assumes and what it predicts, and never tests an input.

    Every compare row names its role; a predicted test (==, <=, >=) of a figure the scenario
    assumes would only echo the input back, so it is refused.
    """
    if "assumes" not in sc:
        raise SpecError(f"{where}: assumes", "list the claimed figures the scenario assumes")
    for i, raw in enumerate(sc.get("compare") or []):
        if "role" not in raw:
            raise SpecError(f"{where}: compare[{i}].role", "say whether it is predicted or assumed")
    assumed = set(assumed_claims(sc))
    for i, row in enumerate(rows):
        if row["role"] == "predicted" and row["relation"] != "info" and row["claim"] in assumed:
            raise SpecError(
                f"{where}: compare[{i}]",
                f"tests {row['claim']!r}, which the scenario assumes: make it role 'assumed'",
            )


def list_scenarios() -> list[dict[str, Any]]:
    """Return id, title, kind, capabilities and claims of every scenario."""
    return [
        {
            "id": sid,
            "title": sc.get("title", sid),
            "workload": sc.get("workload"),
            "kind": sc["spec"].get("kind"),
            "capabilities": list(sc.get("capabilities", [])),
            "claims": list(sc.get("claims", [])),
            "compared_claims": sorted({str(c["claim"]) for c in sc["compare"]}),
            "assumes": assumed_claims(sc),
            "predicts": predicted_claims(sc),
        }
        for sid, sc in _all().items()
    ]


def load_scenario(scenario_id: str) -> dict[str, Any]:
    """Return one scenario (id, title, capabilities, claims, compare, spec); a copy."""
    sc = _all().get(scenario_id)
    if sc is None:
        raise SpecError("scenario", f"unknown scenario {scenario_id!r}")
    return copy.deepcopy(sc)
