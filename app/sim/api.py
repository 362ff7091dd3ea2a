"""Public entry points of the simulator (see docs/CONTRACTS.md)."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from app.sim import batch, scenarios, schema
from app.sim.compare import checks_as_comparisons, compare_result, parse_compare
from app.sim.errors import SpecError
from app.sim.limits import MAX_BATCH_SPECS, MAX_SWEEP_TOP

# 0.3.0: auto settings, one spec parser, the contemporaries scenarios
# 0.4: NCCL ring/tree collectives, the DP timeline, P2P overlap, overlap slowdown
RUNNER_VERSION = "0.5"  # 0.5: per-operator compute cost; NVLS, NVLS-tree and SHARP collectives

KINDS = schema.KINDS


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
        return batch.evaluate_training(spec)
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


def check_spec(spec: Any) -> dict[str, Any]:
    """Return the spec (or scenario mapping) checked against the schema; raises SpecError."""
    return schema.check(spec)


def spec_schema() -> dict[str, Any]:
    """Return the JSON Schema every spec and scenario file follows."""
    return schema.json_schema()


def evaluate(spec: Any) -> dict[str, Any]:
    """Evaluate one workload spec (or a scenario mapping with a ``spec``); raises SpecError.

    The spec is checked against the schema first. A ``compare`` list (on the scenario
    mapping, or at the top level of a spec) is never seen by the models: it only yields
    ``result["comparisons"]``, one row per claim compared. Consistency checks are also
    listed there in the same shape. A result is never non-finite: that raises SpecError
    naming the result field.
    """
    return _evaluate_checked(schema.check(spec))


def _evaluate_checked(spec: dict[str, Any]) -> dict[str, Any]:
    if "kind" not in spec and isinstance(spec.get("spec"), dict):
        sc = spec
        inner = dict(sc["spec"])
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
        return check_finite(res)
    spec = dict(spec)
    compare = spec.pop("compare", None)
    parse_compare(compare)
    res = _dispatch(spec)
    return finish(res, compare, spec.get("claims"))


def finish(
    res: dict[str, Any], compare: Any, claims: Any, numbers_checked: bool = False
) -> dict[str, Any]:
    """Add the claim comparisons and the runner version to a result; check it is finite.

    ``numbers_checked`` says the model's numbers were already checked (on whole arrays), so
    only the comparisons are.
    """
    res["comparisons"] = _comparisons(res, compare, claims, "compare")
    res["runner_version"] = RUNNER_VERSION
    if numbers_checked:
        if res["comparisons"]:
            check_finite({"comparisons": res["comparisons"]})
        return res
    return check_finite(res)


def check_finite(res: dict[str, Any]) -> dict[str, Any]:
    """Return ``res`` if every number in it is finite, else raise SpecError naming the field."""
    bad = _non_finite(res, "result")
    if bad is not None:
        raise SpecError(
            bad[0], f"is not finite ({bad[1]}); the inputs are out of the model's range"
        )
    return res


def _non_finite(node: Any, path: str) -> tuple[str, float] | None:
    if isinstance(node, float):
        return None if math.isfinite(node) else (path, node)
    if isinstance(node, dict):
        for key, val in node.items():
            if not isinstance(val, (str, int)):
                bad = _non_finite(val, f"{path}.{key}")
                if bad is not None:
                    return bad
    elif isinstance(node, (list, tuple)):
        for i, val in enumerate(node):
            bad = _non_finite(val, f"{path}[{i}]")
            if bad is not None:
                return bad
    elif node is not None and not isinstance(node, (str, int)):
        try:
            value = float(node)
        except (TypeError, ValueError):
            return None
        return None if math.isfinite(value) else (path, value)
    return None


def _comparisons(
    res: dict[str, Any], compare: Any, claims: Any, prefix: str
) -> list[dict[str, Any]]:
    return [*compare_result(res, compare, claims, prefix), *checks_as_comparisons(res)]


def evaluate_scenario(scenario_id: str) -> dict[str, Any]:
    """Evaluate a bundled scenario, with its claim comparisons."""
    return evaluate(load_scenario(scenario_id))


# How a result is written as JSON (`ledger bench run --json`): orjson, numpy numbers as numbers,
# keys that are not text as text, any other object as a number or else its text.
JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_default(o: Any) -> Any:
    """Return an object orjson does not know as a number, or else as its text."""
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


def result_json(res: Any) -> bytes:
    """Return a result (or an error entry) as compact JSON."""
    return orjson.dumps(res, default=json_default, option=JSON_OPTIONS)


def evaluate_many(specs: Iterable[Any]) -> list[dict[str, Any]]:
    """Evaluate each spec independently; a bad one yields ``{"error", "field"}`` in its place.

    Fixed-layout ``llm-training`` specs are grouped and evaluated in vectorised calls
    (:mod:`app.sim.batch`); the results equal those of :func:`evaluate` one at a time.
    """
    with _without_cyclic_gc():
        return _evaluate_many(list(specs), None)  # type: ignore[return-value]


def evaluate_many_json(specs: Iterable[Any]) -> list[bytes]:
    """Return :func:`evaluate_many`'s results as :func:`result_json` writes each.

    A vectorised ``llm-training`` result without comparisons is written from the model's
    arrays directly, never built as a mapping: the same bytes in a fraction of the time.
    """
    with _without_cyclic_gc():
        return _evaluate_many(list(specs), result_json)  # type: ignore[return-value]


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    # Results are many small objects and no reference cycles; the cyclic collector's repeated
    # scans of them would cost about a third of the time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc_was_enabled:
            gc.enable()


def _evaluate_many(
    items: list[Any], to_json: Callable[[Any], bytes] | None
) -> list[dict[str, Any]] | list[bytes]:
    if len(items) > MAX_BATCH_SPECS:
        raise SpecError(
            "specs", f"{len(items):,} specs exceed the batch limit of {MAX_BATCH_SPECS:,}"
        )
    out: list[Any] = [None] * len(items)  # every entry is filled in below
    vectorised: list[tuple[int, dict[str, Any]]] = []
    for i, spec in enumerate(items):
        try:
            checked = schema.check(spec)
        except SpecError as exc:
            out[i] = exc.to_dict()
            continue
        if batch.vectorisable(checked):
            vectorised.append((i, checked))
        else:
            out[i] = _evaluate_isolated(checked)
    for i, res in batch.evaluate_training_batch(vectorised, finish, to_json):
        out[i] = res
    if to_json is not None:
        out = [r if isinstance(r, bytes) else to_json(r) for r in out]
    return out


def _evaluate_isolated(spec: dict[str, Any]) -> dict[str, Any]:
    try:
        return _evaluate_checked(spec)
    except Exception as exc:  # one spec's failure, whatever it is, never aborts the batch
        return batch.error_entry(exc)


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
    if not 1 <= top <= MAX_SWEEP_TOP:
        raise SpecError("top", f"must be between 1 and {MAX_SWEEP_TOP}")
    if "kind" not in spec and isinstance(spec.get("spec"), dict):
        spec = spec["spec"]
    spec = {"kind": "llm-training", **spec}
    if spec["kind"] != "llm-training":
        raise SpecError("kind", "sweep needs an llm-training spec")
    spec = schema.check(spec)
    spec.pop("compare", None)  # comparisons are for evaluate()
    res = run_sweep(spec, scheduler=scheduler, top=top, progress=progress)
    res["runner_version"] = RUNNER_VERSION
    return check_finite(res)


def validate() -> dict[str, Any]:
    """Predict every calibration row (A100 and H100); MAPE, worst row and fit per source."""
    from app.sim.calibration import validate as _validate

    res = _validate()
    res["runner_version"] = RUNNER_VERSION
    return res


def list_scenarios() -> list[dict[str, Any]]:
    """Return the bundled scenarios."""
    return scenarios.list_scenarios()


def load_scenario(scenario_id: str) -> dict[str, Any]:
    """Return one bundled scenario."""
    return scenarios.load_scenario(scenario_id)
