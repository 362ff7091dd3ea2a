"""The strict spec schema: unknown keys, bounds, overrides, the published JSON Schema, budgets."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.sim import api, schema
from app.sim.errors import SpecError

TRAINING: dict[str, Any] = {
    "kind": "llm-training",
    "hardware": "a100-80gb-dgx",
    "model": {"layers": 24, "hidden": 2048, "heads": 16, "seq_len": 2048, "vocab": 51200},
    "parallelism": {"tp": 2, "pp": 2, "dp": 4},
    "batch": {"micro": 1, "global": 64},
    "precision": "bf16",
}


def _with(path: str, value: Any, base: dict[str, Any] = TRAINING) -> dict[str, Any]:
    spec = copy.deepcopy(base)
    node = spec
    *parents, last = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return spec


def _error(spec: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        api.evaluate(spec)
    return caught.value


def test_unknown_key_is_an_error_naming_it_and_the_allowed_keys() -> None:
    err = _error(_with("parallelism.tensor_parallel", 8))
    assert err.field == "parallelism.tensor_parallel"
    assert "unknown key 'tensor_parallel'" in err.message
    assert "tp, pp, dp" in err.message


@pytest.mark.parametrize("scenario", [s["id"] for s in api.list_scenarios()])
def test_every_kind_refuses_an_unknown_top_level_key(scenario: str) -> None:
    spec = api.load_scenario(scenario)["spec"]
    schema.check(spec)
    err = _error({**spec, "bogus": 1})
    assert err.field == "bogus"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("model.hidden", float("inf")),
        ("model.hidden", float("nan")),
        ("model.layers", 10**30),
        ("model.layers", 0),
        ("model.heads", -4),
        ("model.seq_len", 2.5),
        ("model.seq_len", "2048"),
        ("parallelism.tp", True),
        ("parallelism.tp_overlap", 1.5),
        ("parallelism.tp_overlap", float("-inf")),
        ("parallelism.zero", 4),
        ("batch.global", 2**40),
        ("precision", "fp4"),
        ("stack", "deepspeed"),
    ],
)
def test_out_of_range_or_mistyped_numbers_name_the_field(path: str, value: Any) -> None:
    err = _error(_with(path, value))
    assert err.field == path
    assert err.message


def test_json_overflow_and_nan_literals_are_field_errors() -> None:
    spec = json.loads(json.dumps(TRAINING).replace('"seq_len": 2048', '"seq_len": 1e400'))
    assert _error(spec).field == "model.seq_len"
    spec = json.loads(json.dumps(TRAINING).replace('"global": 64', '"global": NaN'))
    assert _error(spec).field == "batch.global"
    err = _error({"kind": "collective", "hardware": "dojo-cabinet", "collective": {"bytes": 1e400}})
    assert err.field == "collective.bytes" and "finite" in err.message


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("network.inter_node.bandwidth_gbps", 0),
        ("network.inter_node.bandwidth_gbps", -25),
        ("network.inter_node.bandwidth_gbps", None),
        ("network.nvlink.efficiency", 1.2),
        ("memory.hbm.efficiency", 0),
        ("compute.matmul_efficiency.max", 1.01),
        ("compute.peak_tflops.bf16", 0),
        ("network.inter_node.size", 2.5),
        ("network.nvlink.latency_us", -1),
        ("memory.hbm.capacity_gb", float("inf")),
    ],
)
def test_hardware_overrides_must_be_physical(path: str, value: Any) -> None:
    hw = {"base": "a100-80gb-dgx", "overrides": {path: value}}
    err = _error(_with("hardware", hw))
    assert err.field == f"hardware.overrides.{path}"


def test_valid_overrides_and_the_new_model_keys_pass_the_schema() -> None:
    hw = {
        "base": "a100-80gb-dgx",
        "overrides": {"network.inter_node.bandwidth_gbps": 50, "network.inter_node.size": None},
    }
    spec = _with("hardware", hw)
    spec["parallelism"].update(
        {
            "cp": 2,
            "zero": 2,
            "shard_group": 8,
            "dp_overlap": True,
            "param_gather_overlap": True,
            "tp_overlap": 0.5,
        }
    )
    spec.update({"stack": "megatron-core", "precision": "fp8"})
    assert schema.check(spec)["parallelism"]["cp"] == 2
    assert api.evaluate(_with("hardware", hw))["kind"] == "llm-training"


def test_scenario_mapping_prefixes_the_inner_field() -> None:
    scenario = {"id": "x", "title": "t", "spec": _with("model.depth", 3)}
    assert _error(scenario).field == "spec.model.depth"
    assert _error({"id": "x", "spec": TRAINING, "capabilites": []}).field == "capabilites"


def test_yaml_numeric_text_is_read_as_a_number_by_the_spec_loader() -> None:
    from app.sim.spec import load_yaml

    doc = load_yaml("collective: {op: all-reduce, bytes: 1.0e9}\nm: 1e3\nname: e9\n")
    assert doc == {"collective": {"op": "all-reduce", "bytes": 1e9}, "m": 1000.0, "name": "e9"}


def test_published_json_schema_agrees_with_the_checker() -> None:
    published = api.spec_schema()
    kinds = {
        d["properties"]["kind"]["const"]
        for d in published["$defs"].values()
        if "kind" in d.get("properties", {}) and "const" in d["properties"]["kind"]
    }
    assert kinds == set(schema.KINDS)
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    validator = jsonschema_rs.validator_for(published)
    for sc in api.list_scenarios():
        found = api.load_scenario(sc["id"])
        assert validator.is_valid(found), sc["id"]
        assert validator.is_valid(found["spec"]), sc["id"]
    assert validator.is_valid(TRAINING)
    assert not validator.is_valid(_with("parallelism.tensor_parallel", 8))
    assert not validator.is_valid(_with("model.layers", 0))
    bad_hw = {"base": "a100-80gb-dgx", "overrides": {"network.nvlink.efficiency": 2}}
    assert not validator.is_valid(_with("hardware", bad_hw))


def test_searches_are_sized_before_they_run() -> None:
    grid = {
        "kind": "llm-max-model",
        "hardware": "dojo-d1",
        "model": {"seq_len": 256},
        "search": {
            "hidden": {"start": 64, "stop": 64 * 5000, "step": 64},
            "layers": {"start": 1, "stop": 1000},
        },
    }
    err = _error(grid)
    assert err.field == "search" and "limit of 500,000" in err.message
    err = _error(_with("search.hidden", {"start": 1, "stop": 10**9}, grid))
    assert err.field == "search.hidden" and "limit" in err.message
    sweep = {
        "kind": "llm-training",
        "hardware": "dojo-exapod",
        "model": {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048},
        "batch": {"global": 720720},  # 240 divisors: many micro-batch sizes fit
        "sweep": {
            "use_all": False,
            "micro": list(range(1, 65)),
            "interleave": list(range(1, 65)),
            "pp": list(range(1, 65)),
            "cp": list(range(1, 65)),
            "zero": [0, 1, 2, 3],
        },
    }
    with pytest.raises(SpecError) as caught:
        api.sweep(sweep)
    assert caught.value.field == "sweep" and "limit" in caught.value.message
    with pytest.raises(SpecError):
        api.sweep({**sweep, "sweep": {"use_all": False}}, top=10**6)


def test_sweep_lists_are_bounded_in_the_schema() -> None:
    """1,024 values per list passed validation; 1,024^3 groups would take about 70 GB."""
    base = {
        "kind": "llm-training",
        "hardware": "dojo-exapod",
        "model": {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048},
        "batch": {"global": 1024},
    }
    for key in ("tp", "cp", "pp", "micro", "interleave"):
        too_long = {**base, "sweep": {key: list(range(1, 1025))}}
        err = _error(too_long)
        assert err.field == f"sweep.{key}", err
    fine = {**base, "sweep": {"tp": list(range(1, 65))}}
    api.check_spec(fine)


def test_tp_cp_pp_groups_are_sized_before_any_is_built() -> None:
    """The product of the three lists is refused before a single group is enumerated."""
    from app.sim import limits

    spec = {
        "kind": "llm-training",
        "hardware": "dojo-exapod",
        "model": {"layers": 4096, "hidden": 887040, "heads": 55440, "seq_len": 1441440},
        "batch": {"global": 4096},
        "sweep": {
            "num_accelerators": 3000,
            "tp": [d for d in range(1, 3001) if 55440 % d == 0][:64],
            "cp": [d for d in range(1, 3001) if 720720 % d == 0][:64],
            "pp": list(range(1, 65)),
        },
    }
    with pytest.raises(SpecError) as caught:
        api.sweep(spec)
    assert caught.value.field == "sweep"
    assert "tp x cp x pp groups" in caught.value.message
    assert f"{limits.MAX_SWEEP_GROUPS:,}" in caught.value.message
