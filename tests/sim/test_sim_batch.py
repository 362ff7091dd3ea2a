"""Batches: one bad spec never aborts the rest, results are finite, and the vectorised path
gives exactly what evaluating each spec alone gives."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sim import api, batch, training
from app.sim.errors import SpecError

GPT = {"layers": 24, "hidden": 2048, "heads": 16, "seq_len": 2048, "vocab": 51200}


def _training(**parallelism: Any) -> dict[str, Any]:
    return {
        "kind": "llm-training",
        "hardware": "a100-80gb-dgx",
        "model": dict(GPT),
        "parallelism": {"tp": 2, "pp": 2, "dp": 2, **parallelism},
        "batch": {"micro": 1, "global": 32},
    }


def _alone(spec: Any) -> dict[str, Any]:
    try:
        return api.evaluate(spec)
    except SpecError as exc:
        return exc.to_dict()


def test_one_bad_spec_never_aborts_the_batch() -> None:
    overflow = json.loads(json.dumps(_training()).replace('"seq_len": 2048', '"seq_len": 1e400'))
    specs: list[Any] = [_training(dp=d) for d in (1, 2, 4, 8) for _ in range(13)]
    specs[17] = overflow
    specs += [
        "not a mapping",
        {"kind": "nope"},
        _training(tp=3),
        api.load_scenario("dojo-node-gemm"),
    ]
    results = api.evaluate_many(specs)
    assert len(results) == len(specs)
    assert results[17]["field"] == "model.seq_len"
    assert results[-4]["field"] == "spec"
    assert results[-3]["field"] == "kind"
    assert results[-2]["field"] == "parallelism.tp"
    assert results[-1]["kind"] == "gemm"
    for spec, res in zip(specs, results, strict=True):
        assert res == _alone(spec)
        if "error" in res:
            assert res["error"].startswith(res["field"])
    json.dumps(results, allow_nan=False)


def test_non_finite_results_become_errors_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    real_core = training.core

    def core_with_a_hole(*args: Any) -> dict[str, np.ndarray]:
        r = real_core(*args)
        it = np.array(r["iteration_time_s"], dtype=float)
        if it.ndim:
            it[1] = np.inf
        r["iteration_time_s"] = it
        return r

    monkeypatch.setattr(batch, "core", core_with_a_hole)
    specs = [_training(dp=d) for d in (1, 2, 4)]
    results = api.evaluate_many(specs)
    assert "error" not in results[0] and "error" not in results[2]
    assert results[1]["field"].startswith("result.")
    json.dumps(results, allow_nan=False)
    assert api.evaluate_many_json(specs) == _json(results)

    from app.sim import kernels

    monkeypatch.setattr(kernels, "evaluate_gemm", lambda spec: {"kind": "gemm", "time_s": math.nan})
    with pytest.raises(SpecError) as caught:
        api.evaluate(api.load_scenario("dojo-node-gemm")["spec"])
    assert caught.value.field == "result.time_s"


HARDWARE = st.sampled_from(
    [
        "a100-80gb-dgx",
        "h100-80gb-dgx",
        "dojo-exapod",
        "dojo-system-tray",
        {"base": "a100-80gb-dgx", "overrides": {"network.inter_node.bandwidth_gbps": 50}},
        {"base": "h100-80gb-dgx", "overrides": {"memory.hbm.capacity_gb": 40}},
    ]
)
# Models too large for one accelerator's memory on small layouts: results that do not fit.
BIG = {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048}


@st.composite
def training_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Training specs, mostly valid; some break a cross-field rule the model checks."""
    heads = draw(st.sampled_from([1, 2, 4, 8, 12, 16, 32, 64, 96]))
    pp = draw(st.sampled_from([1, 2, 3, 4, 8]))
    interleave = draw(st.sampled_from([1, 1, 2]))
    # Mostly layouts that divide evenly; sometimes any layer count (an error for the model).
    layers = draw(
        st.one_of(st.integers(1, 12).map(lambda k: k * pp * interleave), st.integers(1, 96))
    )
    model: dict[str, Any] = {
        "layers": layers,
        "hidden": heads * draw(st.sampled_from([32, 64, 128])),
        "heads": heads,
        "seq_len": draw(st.sampled_from([128, 1024, 2048, 4096])),
    }
    if draw(st.integers(0, 9)) == 0:
        model = dict(BIG)
    if draw(st.booleans()):
        model["kv_heads"] = draw(st.sampled_from([h for h in (1, 2, 4, 8, 3) if heads % h == 0]))
    if draw(st.booleans()):
        model["mlp"] = draw(st.sampled_from(["gelu", "swiglu"]))
    if draw(st.booleans()):
        model["attention"] = draw(st.sampled_from(["standard", "flash"]))
    if draw(st.booleans()):
        model["vocab"] = draw(st.integers(1000, 256_000))
    if draw(st.integers(0, 4)) == 0:
        model["ffn_hidden"] = draw(st.integers(1, 40_000))
    dp = draw(st.sampled_from([1, 2, 4, 8, 64]))
    micro = draw(st.sampled_from([1, 2, 4]))
    tp = draw(st.sampled_from([t for t in (1, 2, 4, 8) if heads % t == 0] + [8]))
    par: dict[str, Any] = {"tp": tp, "pp": pp, "dp": dp, "interleave": interleave}
    for key, values in (
        ("zero", [0, 0, 1, 1, 3, 2]),
        ("sequence_parallel", [True, False]),
        ("dp_overlap", [True, False]),
        ("param_gather_overlap", [True, False]),
        ("tp_overlap", [0.0, 0.5, 1.0, 1, 0]),
        ("cp", [1, 2, 4, 3]),
        ("shard_group", [1, 2, dp, 3]),
    ):
        if draw(st.integers(0, 2)) == 0:
            par[key] = draw(st.sampled_from(values))
    bat: dict[str, Any] = {"micro": micro, "global": micro * dp * pp * draw(st.integers(1, 8))}
    if draw(st.integers(0, 5)) == 0:  # the defaults: micro 1, global micro x dp
        bat.pop(draw(st.sampled_from(["micro", "global"])))
    spec: dict[str, Any] = {
        "kind": "llm-training",
        "hardware": draw(HARDWARE),
        "model": model,
        "parallelism": par,
        "batch": bat,
    }
    for key, values in (
        ("precision", ["bf16", "bf16", "fp16", "fp8"]),
        ("recompute", ["none", "selective", "full"]),
        ("stack", ["megatron-2021", "megatron-core", "nemo", "fsdp"]),
    ):
        if draw(st.booleans()):
            spec[key] = draw(st.sampled_from(values))
    if draw(st.integers(0, 5)) == 0:
        spec["compare"] = [{"claim": "c", "field": "mfu", "relation": ">=", "tolerance": 0.1}]
        spec["claims"] = [{"slug": "c", "value": 0.4, "unit": ""}]
    return spec


def _break(spec: dict[str, Any], how: int) -> dict[str, Any]:
    """Return ``spec`` with one problem the schema (not the model) must name."""
    spec = json.loads(json.dumps(spec))
    if how == 0:
        spec["parallelism"]["tensor"] = 2  # unknown key
    elif how == 1:
        spec["model"]["seq_len"] = math.inf
    elif how == 2:
        spec["hardware"] = "a100-80gb-dgx\x00"
    elif how == 3:
        spec["parallelism"]["tp"] = True
    elif how == 4:
        spec["model"]["hidden"] = 2048.0
    elif how == 5:
        del spec["model"]["layers"]
    else:
        spec["batch"]["global"] = 0
    return spec


@st.composite
def mixed_specs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Training specs with a few the schema rejects mixed in."""
    specs = draw(st.lists(training_specs(), min_size=20, max_size=60))
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(specs) - 1))
        specs[i] = _break(specs[i], draw(st.integers(0, 6)))
    return specs


def _json(results: list[dict[str, Any]]) -> list[bytes]:
    """Return each result as `ledger bench run --json` prints it."""
    return [orjson.dumps(r, default=api.json_default, option=api.JSON_OPTIONS) for r in results]


@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mixed_specs())
def test_batch_equals_one_at_a_time(specs: list[dict[str, Any]]) -> None:
    results = api.evaluate_many(specs)
    alone = [_alone(s) for s in specs]
    assert results == alone
    assert _json(results) == _json(alone)  # the same bytes: ints stay ints, floats floats
    # Written straight from the arrays: the same bytes again.
    assert api.evaluate_many_json(specs) == _json(alone)
    json.dumps(results, allow_nan=False)
    for res in results:
        if "error" in res:
            assert res["error"].startswith(res["field"])
        elif not res["fits"]:
            assert res["iteration_time_s"] is None and res["would_be"]["iteration_time_s"] > 0
