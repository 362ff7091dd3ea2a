"""Hypothesis fuzzing of the spec schema: a mutated spec gives a result or an error naming a
field, never a traceback, and never NaN or Infinity in the output."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sim import api
from app.sim.errors import SpecError

TRAINING = {
    "kind": "llm-training",
    "hardware": {"base": "a100-80gb-dgx", "overrides": {"network.inter_node.bandwidth_gbps": 25}},
    "model": {"layers": 24, "hidden": 2048, "heads": 16, "seq_len": 2048, "mlp": "gelu"},
    "parallelism": {"tp": 2, "pp": 2, "dp": 2, "interleave": 2, "sequence_parallel": True},
    "batch": {"micro": 1, "global": 32},
    "precision": "bf16",
    "recompute": "selective",
    "compare": [{"claim": "x", "field": "mfu", "relation": "info"}],
}
# Cheap bundled specs of every kind (the large layout searches are left out to keep CI fast).
SCENARIOS = (
    "dojo-node-gemm",
    "cabinet-allreduce",
    "fsd-hw3-8cam-split",
    "dojo-consistency",
    "tile-gpt-scaling",
    "d1-largest-gpt-sram-charlevel",
    "tray-gpt-1p3b",
)
BASES = [TRAINING, *(api.load_scenario(s)["spec"] for s in SCENARIOS)]

NASTY = st.one_of(
    st.sampled_from(
        [0, -1, 1, 2**31, 2**63, 10**400, 1e400, -1e400, 1e308, 5e-324, "1e400", "nan", "", None]
    ),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=4),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "tp", "value", "start"]), st.integers(-3, 9), max_size=2),
)


def _near(value: Any) -> st.SearchStrategy[Any]:
    """Values of the same type near ``value``: mostly plausible, so the models run on them."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(0, 2 * abs(value) + 4) | st.sampled_from([1, 2, 3, 4, 8, 64, 1024])
    if isinstance(value, float):
        return st.floats(0.0, 2 * abs(value) + 1.0) | st.sampled_from([0.0, 1e-9, 0.5, 1.0, 1e12])
    return st.just(value) | NASTY


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix and prefix != ("kind",) else []
    if isinstance(node, dict):
        for key, val in node.items():
            out += _paths(val, (*prefix, key))
    elif isinstance(node, list):
        for i, val in enumerate(node[:3]):
            out += _paths(val, (*prefix, i))
    return out


@st.composite
def mutated_specs(draw: st.DrawFn) -> Any:
    spec = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 2))):
        paths = _paths(spec)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = spec
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "tensor_parallel", "Tp", "nan"]))] = 1
        else:
            old = parent[path[-1]]
            parent[path[-1]] = draw(st.one_of(_near(old), _near(old), NASTY))
    return spec


def _check_entry(entry: dict[str, Any]) -> None:
    if "error" in entry:
        field = entry["field"]
        assert isinstance(field, str) and field and "~" not in field
        assert entry["error"].startswith(f"{field}: ")
        # An exception the model did not turn into a SpecError would be a traceback.
        assert "Error: " not in entry["error"], entry["error"]
    else:
        assert entry["kind"]


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(mutated_specs())
def test_mutated_specs_give_a_result_or_an_error_naming_a_field(spec: Any) -> None:
    [entry] = api.evaluate_many([spec])
    _check_entry(entry)
    json.dumps(entry, allow_nan=False)
    try:
        alone = api.evaluate(spec)
    except SpecError as exc:
        alone = exc.to_dict()
    assert alone == entry
