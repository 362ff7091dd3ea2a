"""Sweeps (local and on a Dask LocalCluster) and the `bench` CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.benchmarks.cli import bench_app
from app.sim import api

SWEEP = {
    "kind": "llm-training",
    "hardware": "a100-80gb-dgx",
    "model": {"layers": 24, "hidden": 2048, "heads": 16, "seq_len": 2048, "vocab": 51200},
    "batch": {"global": 256},
    "precision": "bf16",
    "sweep": {"num_accelerators": 64},
}


def test_sweep_local_ranks_feasible_layouts() -> None:
    res = api.sweep(SWEEP, top=5)
    assert res["evaluated"] > 100
    times = [b["iteration_time_s"] for b in res["best"]]
    assert times == sorted(times)
    assert all(b["fits"] for b in res["best"])
    for b in res["best"]:
        lay = b["layout"]
        assert lay["tp"] * lay["pp"] * lay["dp"] == 64


def test_sweep_on_dask_equals_local() -> None:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        processes=False,
        protocol="tcp://",
    )
    try:
        remote = api.sweep(SWEEP, scheduler=cluster.scheduler_address, top=5)
    finally:
        cluster.close()
    local = api.sweep(SWEEP, top=5)
    assert remote["backend"] == "dask"
    assert remote["best"] == local["best"]
    assert remote["evaluated"] == local["evaluated"]


runner = CliRunner()


def test_cli_list_and_scenario_run() -> None:
    out = runner.invoke(bench_app, ["list", "--json"])
    assert out.exit_code == 0, out.output
    ids = [s["id"] for s in json.loads(out.stdout)["scenarios"]]
    assert "exapod-gpt3-175b" in ids
    out = runner.invoke(bench_app, ["run", "dojo-node-gemm", "--json", "--no-record"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["kind"] == "gemm"


def test_cli_run_list_file_keeps_order_and_errors(tmp_path: Path) -> None:
    specs = [
        api.load_scenario("dojo-node-gemm")["spec"],
        {"kind": "gemm", "hardware": "a100-80gb-dgx", "gemm": {"m": 1, "n": 1}},
        api.load_scenario("cabinet-allreduce")["spec"],
    ]
    f = tmp_path / "specs.yaml"
    f.write_text(yaml.safe_dump(specs))
    out = runner.invoke(bench_app, ["run", str(f), "--json"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout)
    assert [r.get("kind") for r in res] == ["gemm", None, "collective"]
    assert "gemm.k" in res[1]["error"]
    jl = tmp_path / "specs.jsonl"
    jl.write_text("\n".join(json.dumps(s) for s in specs))
    out = runner.invoke(bench_app, ["run", str(jl), "--json"])
    assert [r.get("kind") for r in json.loads(out.stdout)] == ["gemm", None, "collective"]


def test_cli_bad_single_spec_names_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"kind": "gemm", "hardware": "nope", "gemm": {"m": 1, "n": 1, "k": 1}}))
    out = runner.invoke(bench_app, ["run", str(f), "--json"])
    assert out.exit_code == 1
    assert json.loads(out.stdout)["field"] == "hardware"


def test_cli_sweep_and_validate(tmp_path: Path) -> None:
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump(SWEEP))
    out = runner.invoke(bench_app, ["sweep", str(f), "--top", "3", "--json"])
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.stdout)["best"]) == 3
    out = runner.invoke(bench_app, ["sweep", str(f), "--top", "2"])
    assert out.exit_code == 0 and "layouts" in out.output
    out = runner.invoke(bench_app, ["validate"])
    assert out.exit_code == 0, out.output
    assert "MAPE KORTHIKANTI22_T5" in out.output


def test_cli_list_output_is_one_result_per_line(tmp_path: Path) -> None:
    training = {
        "kind": "llm-training",
        "hardware": "a100-80gb-dgx",
        "model": {"layers": 24, "hidden": 2048, "heads": 16, "seq_len": 2048},
        "parallelism": {"tp": 2, "pp": 2, "dp": 2},
        "batch": {"micro": 1, "global": 32},
    }
    big = {**training, "model": {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048}}
    compared = {**training, "compare": [{"claim": "c", "field": "mfu", "relation": "info"}]}
    specs: list[Any] = [training, big, compared, {**training, "kind": "nope"}, training]
    specs.append(api.load_scenario("dojo-node-gemm")["spec"])
    f = tmp_path / "specs.json"
    f.write_text(json.dumps(specs))
    out = runner.invoke(bench_app, ["run", str(f), "--json"])
    assert out.exit_code == 0, out.output
    lines = [api.result_json(r) for r in api.evaluate_many(specs)]
    assert out.stdout_bytes == b"[\n" + b",\n".join(lines) + b"\n]\n"
    f.write_text("[]")
    assert runner.invoke(bench_app, ["run", str(f), "--json"]).stdout_bytes == b"[]\n"
