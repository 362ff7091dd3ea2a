"""Public entry points of the simulator (see docs/CONTRACTS.md)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from app.sim import scenarios
from app.sim.calibration import validate as _validate
from app.sim.compare import checks_as_comparisons, compare_result, parse_compare
from app.sim.errors import SpecError

RUNNER_VERSION = "0.2.0"

KINDS = (
    "gemm",
    "collective",
    "llm-training",
    "nn-inference",
    "consistency",
    "llm-max-model",
    "llm-scaling",
)


def _dispatch(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec.get("kind")
    if kind == "gemm":
        from app.sim.kernels import evaluate_gemm

        return evaluate_gemm(spec)
    if kind == "collective":
        from app.sim.kernels import evaluate_collective

        return evaluate_collective(spec)
    if kind == "llm-training":
        if spec.get("parallelism") == "auto":
            return _auto_layout(spec)
        from app.sim.training import evaluate_training

        return evaluate_training(spec)
    if kind == "nn-inference":
        from app.sim.inference import evaluate_inference

        return evaluate_inference(spec)
    if kind == "consistency":
        from app.sim.consistency import evaluate_consistency

        return evaluate_consistency(spec)
    if kind == "llm-max-model":
        from app.sim.studies import evaluate_max_model

        return evaluate_max_model(spec)
    if kind == "llm-scaling":
        from app.sim.studies import evaluate_scaling

        return evaluate_scaling(spec)
    raise SpecError("kind", f"unknown workload kind {kind!r}; use one of {', '.join(KINDS)}")


def _auto_layout(spec: dict[str, Any]) -> dict[str, Any]:
    """Evaluate the best layout found by a sweep (``parallelism: auto``)."""
    from app.sim.sweep import run_sweep

    sw = run_sweep(spec, top=1)
    if not sw["best"]:
        raise SpecError("parallelism", "no layout of this model fits the hardware's memory")
    out = dict(sw["best"][0])
    out["search"] = {k: sw[k] for k in ("evaluated", "feasible", "backend")}
    return out


def evaluate(spec: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one workload spec (or a scenario mapping with a ``spec``); raises SpecError.

    A ``compare`` list (on the scenario mapping, or at the top level of a spec) is never seen
    by the models: it only yields ``result["comparisons"]``, one row per claim compared.
    Consistency checks are also listed there in the same shape.
    """
    if not isinstance(spec, dict):
        raise SpecError("spec", "must be a mapping")
    spec = copy.deepcopy(spec)
    if "kind" not in spec and isinstance(spec.get("spec"), dict):
        sc = spec
        inner = copy.deepcopy(sc["spec"])
        inner_compare = inner.pop("compare", None)
        if sc.get("compare") or inner_compare is None:
            compare, prefix = sc.get("compare"), "compare"
        else:
            compare, prefix = inner_compare, "spec.compare"
        parse_compare(compare, prefix)  # shape errors before any work
        res = _dispatch(inner)
        res["scenario"] = {k: sc.get(k) for k in ("id", "title", "capabilities", "claims")}
        res["comparisons"] = _comparisons(res, compare, inner.get("claims"), prefix)
        res["runner_version"] = RUNNER_VERSION
        return res
    compare = spec.pop("compare", None)
    parse_compare(compare)
    res = _dispatch(spec)
    res["comparisons"] = _comparisons(res, compare, spec.get("claims"), "compare")
    res["runner_version"] = RUNNER_VERSION
    return res


def _comparisons(
    res: dict[str, Any], compare: Any, claims: Any, prefix: str
) -> list[dict[str, Any]]:
    return [*compare_result(res, compare, claims, prefix), *checks_as_comparisons(res)]


def evaluate_scenario(scenario_id: str) -> dict[str, Any]:
    """Evaluate a bundled scenario, with its claim comparisons."""
    return evaluate(load_scenario(scenario_id))


def evaluate_many(specs: Iterable[Any]) -> list[dict[str, Any]]:
    """Evaluate each spec independently; a bad one yields ``{"error": ...}`` in its place."""
    out: list[dict[str, Any]] = []
    for spec in specs:
        try:
            out.append(evaluate(spec))
        except SpecError as exc:
            out.append(exc.to_dict())
        except (ValueError, TypeError, KeyError, ZeroDivisionError) as exc:
            out.append({"error": f"spec: {type(exc).__name__}: {exc}"})
    return out


def sweep(
    spec: dict[str, Any],
    scheduler: str | None = None,
    top: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Search tp/pp/dp/micro-batch layouts; ``scheduler`` (tcp://...) runs chunks on Dask."""
    from app.sim.sweep import run_sweep

    if not isinstance(spec, dict):
        raise SpecError("spec", "must be a mapping")
    if "kind" not in spec and isinstance(spec.get("spec"), dict):
        spec = spec["spec"]
    spec = {k: v for k, v in spec.items() if k != "compare"}  # comparisons are for evaluate()
    if spec.get("kind", "llm-training") != "llm-training":
        raise SpecError("kind", "sweep needs an llm-training spec")
    res = run_sweep(spec, scheduler=scheduler, top=top, progress=progress)
    res["runner_version"] = RUNNER_VERSION
    return res


def validate() -> dict[str, Any]:
    """Predict every calibration row (A100 and H100); MAPE, worst row and fit per source."""
    res = _validate()
    res["runner_version"] = RUNNER_VERSION
    return res


def list_scenarios() -> list[dict[str, Any]]:
    """Return the bundled scenarios."""
    return scenarios.list_scenarios()


def load_scenario(scenario_id: str) -> dict[str, Any]:
    """Return one bundled scenario."""
    return scenarios.load_scenario(scenario_id)
