"""Evaluate many fixed-layout ``llm-training`` specs in vectorised calls of the training model.

Specs are parsed one by one with the model's own parsers (so every check and default is the
same as for one spec), grouped by what cannot vary inside one call of
:func:`app.sim.training.core` (the hardware after overrides, the precision and any other
non-numeric option), stacked into arrays and evaluated together. Each result is then built by
the model's own :func:`~app.sim.training.summarize`; one spec's error stays in its entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from numbers import Number
from typing import Any

import numpy as np

from app.sim.errors import SpecError
from app.sim.hardware import System, resolve
from app.sim.limits import EVAL_CHUNK

Result = dict[str, Any]
Finish = Callable[[Result, Any, Any], Result]


def vectorisable(spec: dict[str, Any]) -> bool:
    """Return whether a checked spec is a plain ``llm-training`` spec on a fixed layout."""
    return spec.get("kind") == "llm-training" and spec.get("parallelism") != "auto"


def _hardware_key(hw: Any) -> str:
    return hw if isinstance(hw, str) else json.dumps(hw, sort_keys=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, (Number, np.number)) and not isinstance(value, complex)


def _group_key(parts: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Return the non-numeric values of a parsed model or layout (they must match in a call)."""
    return tuple((k, v) for k, v in parts.items() if not _is_number(v))


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

    ``finish(result, compare, claims)`` adds the claim comparisons and checks the result, as
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
        except Exception as exc:  # noqa: BLE001 - reported per spec, never aborts the batch
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
            except Exception as exc:  # noqa: BLE001 - reported per spec, never aborts the batch
                for i, *_ in chunk:
                    yield i, error_entry(exc)
                continue
            for j, (i, spec, model, _) in enumerate(chunk):
                try:
                    res = summarize(system, model, lays, precision, r, j)
                    yield i, finish(res, spec.get("compare"), spec.get("claims"))
                except Exception as exc:  # noqa: BLE001
                    yield i, error_entry(exc)


def error_entry(exc: Exception) -> Result:
    """Return the batch entry of a spec that failed: the SpecError, or the exception named."""
    if isinstance(exc, SpecError):
        return exc.to_dict()
    return {"error": f"spec: {type(exc).__name__}: {exc}", "field": "spec"}
