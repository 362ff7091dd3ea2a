"""The one spec parser (one table of rules for a spec, a batch and the sweep) and `auto`
settings (the runner searches what a published run does not state)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from app.benchmarks.cli import bench_app
from app.sim import api, parse
from app.sim.calibration import load_rows, row_spec, unstated
from app.sim.errors import SpecError

GPT3 = {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048}
SMALL = {"layers": 24, "hidden": 2048, "heads": 16, "seq_len": 2048}


def _spec(**over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "llm-training",
        "hardware": "a100-80gb-dgx",
        "model": dict(GPT3),
        "parallelism": {"tp": 8, "pp": 8, "dp": 1},
        "batch": {"micro": 1, "global": 64},
        "precision": "bf16",
    }
    spec.update(over)
    return spec


AUTO = _spec(
    parallelism={"tp": 8, "pp": 8, "dp": 1, "interleave": "auto"},
    batch={"micro": "auto", "global": 64},
    recompute="auto",
)


def test_auto_takes_the_fastest_setting_that_fits() -> None:
    res = api.evaluate(AUTO)
    chosen = res["auto"]["chosen"]
    assert set(chosen) == {"interleave", "micro", "recompute"}
    assert res["fits"] and res["auto"]["fitting"] > 0
    assert res["auto"]["searched"] >= res["auto"]["valid"] >= res["auto"]["fitting"]
    lay = res["layout"]
    assert (lay["interleave"], lay["micro"], lay["recompute"]) == (
        chosen["interleave"],
        chosen["micro"],
        chosen["recompute"],
    )
    # Brute force, one spec at a time: nothing valid that fits is faster.
    times = []
    for v, mb, rc in itertools.product(range(1, 14), (1, 2, 4, 8, 16, 32, 64), parse.RECOMPUTE):
        spec = _spec(
            parallelism={"tp": 8, "pp": 8, "dp": 1, "interleave": v},
            batch={"micro": mb, "global": 64},
            recompute=rc,
        )
        try:
            one = api.evaluate(spec)
        except SpecError:
            continue
        if one["fits"]:
            times.append(one["iteration_time_s"])
    assert len(times) == res["auto"]["fitting"]
    assert res["iteration_time_s"] == min(times)
    # The same as giving the chosen values.
    given = _spec(
        parallelism={"tp": 8, "pp": 8, "dp": 1, "interleave": chosen["interleave"]},
        batch={"micro": chosen["micro"], "global": 64},
        recompute=chosen["recompute"],
    )
    assert {k: v for k, v in res.items() if k != "auto"} == api.evaluate(given)


def test_a_layout_that_does_not_fit_with_the_defaults_fits_with_auto() -> None:
    assert api.evaluate(_spec())["fits"] is False  # no recompute, micro 1, no interleave
    assert api.evaluate({**_spec(), "recompute": "auto"})["fits"] is True


def test_auto_when_nothing_fits_returns_the_smallest_and_says_so() -> None:
    spec = _spec(parallelism={"tp": 1, "pp": 1, "dp": 1}, recompute="auto")
    res = api.evaluate(spec)
    assert res["fits"] is False and res["auto"]["fitting"] == 0
    assert res["auto"]["chosen"] == {"recompute": "full"}  # the least memory


def test_auto_micro_needs_the_global_batch_and_refuses_no_valid_value() -> None:
    with pytest.raises(SpecError) as caught:
        api.evaluate(_spec(batch={"micro": "auto"}))
    assert caught.value.field == "batch.global"
    with pytest.raises(SpecError) as caught:  # 7 micro-batches never divide by pp = 8
        api.evaluate(
            _spec(
                parallelism={"tp": 8, "pp": 8, "dp": 1, "interleave": 3},
                batch={"micro": "auto", "global": 7},
            )
        )
    assert caught.value.field == "batch.micro"
    with pytest.raises(SpecError) as caught:
        api.evaluate(_spec(recompute="sometimes"))
    assert caught.value.field == "recompute"
    with pytest.raises(SpecError) as caught:
        api.evaluate(_spec(parallelism={"tp": 8, "interleave": "8"}))
    assert caught.value.field == "parallelism.interleave"


def test_auto_specs_in_a_batch_equal_one_at_a_time() -> None:
    specs = [AUTO, _spec(), {**_spec(), "recompute": "auto"}]
    assert api.evaluate_many(specs) == [api.evaluate(s) for s in specs]


def test_bench_run_reports_the_auto_choice(tmp_path: Path) -> None:
    path = tmp_path / "auto.yaml"
    path.write_text(yaml.safe_dump(AUTO))
    out = CliRunner().invoke(bench_app, ["run", str(path), "--no-record"])
    assert out.exit_code == 0, out.output
    assert "auto:" in out.output and "chosen:" in out.output
    chosen = api.evaluate(AUTO)["auto"]["chosen"]
    assert f"interleave: {chosen['interleave']}" in out.output
    assert f"recompute: {chosen['recompute']}" in out.output


def test_every_calibration_row_fits_with_its_unstated_settings_searched() -> None:
    for row in load_rows():
        spec = row_spec(row, auto=True)
        res = api.evaluate(spec)
        assert res["fits"], row["row_id"]
        assert sorted(res.get("auto", {}).get("chosen", {})) == sorted(unstated(row))


# ---- one table of rules ----

BROKEN = [
    ("model.kv_heads", {"model": {**SMALL, "kv_heads": 32}}),
    ("model.heads", {"model": {**SMALL, "hidden": 2050}}),
    ("model.kv_heads", {"model": {**SMALL, "kv_heads": 3}}),
    ("parallelism.tp", {"parallelism": {"tp": 3}}),
    ("parallelism.pp", {"parallelism": {"pp": 2, "interleave": 14}}),
    ("parallelism.cp", {"parallelism": {"cp": 3}}),
    ("parallelism.shard_group", {"parallelism": {"dp": 4, "shard_group": 3}}),
    ("batch.global", {"batch": {"micro": 2, "global": 33}}),
    ("parallelism.interleave", {"parallelism": {"interleave": 2}}),
    ("parallelism", {"hardware": "dojo-training-tile", "parallelism": {"dp": 32}}),
]


@pytest.mark.parametrize(("field", "over"), BROKEN)
def test_each_rule_names_its_field_alone_and_in_a_batch(field: str, over: dict) -> None:
    spec = {
        "kind": "llm-training",
        "hardware": "a100-80gb-dgx",
        "model": dict(SMALL),
        "batch": {"global": 32},
        **over,
    }
    with pytest.raises(SpecError) as caught:
        api.evaluate(spec)
    assert caught.value.field == field
    good = {**spec, "model": dict(SMALL), "parallelism": {}, "batch": {"global": 32}}
    batch = api.evaluate_many([good, spec, good])
    assert batch[1] == caught.value.to_dict()
    assert "error" not in batch[0] and batch[0] == batch[2]


def test_every_cross_field_rule_is_exercised() -> None:
    named = {field for field, _ in BROKEN}
    cross = {r.field for r in parse.RULES if len(r.fields) > 1}
    assert cross <= named


def test_the_sweep_and_the_auto_search_filter_with_the_same_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sweep = {
        "kind": "llm-training",
        "hardware": "a100-80gb-dgx",
        "model": dict(SMALL),
        "batch": {"global": 256},
        "sweep": {"num_accelerators": 64, "tp": [2, 8]},
    }
    assert any(b["layout"]["tp"] == 8 for b in api.sweep(sweep, top=1000)["best"])
    auto = {**_spec(), "model": dict(SMALL), "batch": {"micro": "auto", "global": 64}}
    auto["parallelism"] = {"tp": 2, "dp": 4}
    assert api.evaluate(auto)["auto"]["chosen"]["micro"] > 2
    no_tp8 = parse.Rule("parallelism.tp", ("tp",), lambda c: c["tp"] != 8, lambda v: "no tp 8 here")
    small_micro = parse.Rule(
        "batch.micro", ("micro",), lambda c: c["micro"] <= 2, lambda v: "at most 2"
    )
    monkeypatch.setattr(parse, "RULES", (*parse.RULES, no_tp8, small_micro))
    assert all(b["layout"]["tp"] == 2 for b in api.sweep(sweep, top=1000)["best"])
    assert api.evaluate(auto)["auto"]["chosen"]["micro"] == 2
    with pytest.raises(SpecError, match="no tp 8 here"):
        api.evaluate(_spec())


def test_a_spec_is_a_batch_of_one() -> None:
    parsed = parse.parse([_spec(), {**_spec(), "parallelism": {"tp": 5}}])
    assert parsed.errors[0] is None and parsed.errors[1] is not None
    system, model, lay, precision = parse.parse_one(_spec())
    assert precision == "bf16" and system.id == "a100-80gb-dgx"
    assert all(np.shape(v) == (1,) for v in model.values())
    assert lay["overlap_from_stack"] == ["dp_overlap", "param_gather_overlap", "tp_overlap"]
