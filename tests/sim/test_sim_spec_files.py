"""`ledger bench run FILE`: parse errors name the line and column, exit non-zero, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.benchmarks.cli import bench_app

runner = CliRunner()
GEMM = {"kind": "gemm", "hardware": "a100-80gb-dgx", "gemm": {"m": 64, "n": 64, "k": 64}}


def _run(path: Path) -> tuple[int, str, str]:
    out = runner.invoke(bench_app, ["run", str(path), "--json", "--no-record"])
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    return out.exit_code, out.stdout, out.stderr


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bad.yaml", "kind: gemm\nhardware: a100-80gb-dgx\ngemm: {m: 1, n: 2\n", ":4:"),
        ("bad.yaml", "kind: gemm\n  hardware: [a100\n", ":2:"),
        ("bad.json", '{\n  "kind": "gemm",\n  "gemm": {"m": 1,, "n": 2}\n}\n', ":3:19:"),
        ("bad.jsonl", json.dumps(GEMM) + "\n{not json}\n", ":2:2:"),
        ("bad.txt", '[{"kind": "gemm"},\n {"kind": \n', ":3:"),
    ],
)
def test_parse_errors_name_the_line(tmp_path: Path, name: str, text: str, where: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    code, stdout, stderr = _run(path)
    assert code == 2
    assert f"{path}{where}" in stderr, stderr
    assert "Traceback" not in stdout + stderr
    assert json.loads(stdout)["field"] == "file"


def test_unreadable_and_deeply_nested_files_are_clear_errors(tmp_path: Path) -> None:
    binary = tmp_path / "spec.yaml"
    binary.write_bytes(b"kind: \xff\xfe\n")
    code, _, stderr = _run(binary)
    assert code == 2 and "not UTF-8" in stderr
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    code, _, stderr = _run(deep)
    assert code == 2 and "Traceback" not in stderr


def test_numbers_json_parsers_disagree_on_become_field_errors(tmp_path: Path) -> None:
    path = tmp_path / "specs.json"
    path.write_text(
        "["
        + json.dumps(GEMM)
        + ', {"kind": "gemm", "hardware": "a100-80gb-dgx", "gemm": {"m": 1, "n": 1, "k": '
        + "9" * 40
        + '}}, {"kind": "collective", "hardware": "dojo-cabinet", "collective": {"bytes": NaN}}]'
    )
    code, stdout, _ = _run(path)
    assert code == 0
    results = json.loads(stdout)
    assert results[0]["kind"] == "gemm"
    assert results[1]["field"] == "gemm.k"
    assert results[2]["field"] == "collective.bytes"
    assert "NaN" not in stdout and "Infinity" not in stdout


def test_schema_command_prints_the_json_schema() -> None:
    out = runner.invoke(bench_app, ["schema"])
    assert out.exit_code == 0
    published = json.loads(out.stdout)
    assert published["$defs"]["Parallelism"]["additionalProperties"] is False
