"""`ledger bench`: run simulated workloads, sweeps and the calibration check (calls app.sim.api)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import yaml

from app.sim import api
from app.sim.errors import SpecError
from app.sim.limits import MAX_SPEC_FILE_BYTES
from app.sim.spec import load_yaml

bench_app = typer.Typer(help="Simulated hardware workloads.", no_args_is_help=True)


_JSON_OPTIONS = api.JSON_OPTIONS
_json_default = api.json_default


def _emit(obj: Any) -> None:
    out = orjson.dumps(obj, default=_json_default, option=_JSON_OPTIONS | orjson.OPT_INDENT_2)
    _write(out)


def _emit_lines(lines: list[bytes]) -> None:
    """Print a JSON array with one compact item per line (a batch can hold many thousands)."""
    if not lines:
        _write(b"[]")
        return
    _write(b"[\n", b",\n".join(lines), b"\n]")


def _write(*parts: bytes) -> None:
    """Write ``parts`` and a line break to stdout (as bytes when it has a buffer)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(b"".join(parts).decode() + "\n")
        return
    for part in parts:
        buffer.write(part)
    buffer.write(b"\n")
    buffer.flush()


class SpecFileError(ValueError):
    """A spec file that cannot be read or parsed; the message names the line and column."""


def _load_specs(path: Path) -> Any:
    """Return a mapping or a list of specs from YAML, JSON or JSON Lines."""
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_FILE_BYTES:
            raise SpecFileError(
                f"{path}: {size:,} bytes exceed the limit of {MAX_SPEC_FILE_BYTES:,} "
                "(app/sim/limits.py); split the file"
            )
        data = path.read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        raise SpecFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SpecFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return _parse(path, data, text)
    except RecursionError:
        raise SpecFileError(f"{path}: nested too deeply") from None


def _parse(path: Path, data: bytes, text: str) -> Any:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return _json_lines(path, text)
    if suffix == ".json":
        return _json(path, data, text, 0)
    if text.lstrip()[:1] in ("{", "["):  # JSON is YAML, but parses much faster as JSON
        try:
            return _json(path, data, text, 0)
        except SpecFileError:
            pass
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        try:  # several JSON objects, one per line, without a .jsonl suffix
            return _json_lines(path, text)
        except SpecFileError:
            pass
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecFileError(f"{path}:{where}: YAML error: {problem}") from None


def _json(path: Path, data: bytes | str, text: str, line_offset: int) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass  # the standard parser reads what orjson refuses (big integers, NaN) or says where
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecFileError(
            f"{path}:{exc.lineno + line_offset}:{exc.colno}: JSON error: {exc.msg}"
        ) from None


def _json_lines(path: Path, text: str) -> list[Any]:
    return [_json(path, line, line, i) for i, line in enumerate(text.splitlines()) if line.strip()]


def _print_human(res: dict[str, Any], indent: str = "") -> None:
    for key, val in res.items():
        if isinstance(val, dict):
            typer.echo(f"{indent}{key}:")
            _print_human(val, indent + "  ")
        elif isinstance(val, list):
            typer.echo(f"{indent}{key}: [{len(val)} items]")
        elif isinstance(val, float):
            typer.echo(f"{indent}{key}: {val:.6g}")
        else:
            typer.echo(f"{indent}{key}: {val}")


@bench_app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the bundled scenarios and hardware ids."""
    from app.sim.hardware import list_hardware

    scenarios = api.list_scenarios()
    if as_json:
        _emit({"scenarios": scenarios, "hardware": list_hardware()})
        return
    for sc in scenarios:
        typer.echo(f"{sc['id']:<32} {sc['kind']:<14} {sc['title']}")
    typer.echo("")
    typer.echo("hardware: " + ", ".join(h["id"] for h in list_hardware()))


@bench_app.command("run")
def run_cmd(
    target: Annotated[
        str, typer.Argument(help="A spec file (YAML, JSON, JSON Lines) or a scenario id")
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    record: Annotated[
        bool, typer.Option(help="Store the run and its evidence in the ledger database.")
    ] = True,
) -> None:
    """Evaluate a spec file (one spec or a list) or a bundled scenario."""
    path = Path(target)
    if path.is_file():
        try:
            specs = _load_specs(path)
        except SpecFileError as exc:
            if as_json:
                _emit({"error": str(exc), "field": "file"})
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    else:
        try:
            specs = api.load_scenario(target)
        except SpecError as exc:
            typer.echo(f"error: {exc} (not a file either)", err=True)
            raise typer.Exit(2) from None
    if isinstance(specs, list):
        try:
            if as_json:
                _emit_lines(api.evaluate_many_json(specs))
                return
            results = api.evaluate_many(specs)
        except SpecError as exc:  # the batch as a whole is too large
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        for i, r in enumerate(results):
            typer.echo(f"--- [{i}]")
            _print_human(r)
        return
    try:
        res = api.evaluate(specs)
    except SpecError as exc:
        if as_json:
            _emit(exc.to_dict())
        else:
            typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if record:
        _record(specs, res)
    if as_json:
        _emit(res)
    else:
        _print_human(res)


def _record(spec_or_scenario: dict[str, Any], result: dict[str, Any]) -> None:
    """Store a CLI run as a record; a missing database only warns (stdout stays the result)."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from app.benchmarks.flow import record_completed_run
    from app.benchmarks.service import scenario_spec
    from app.core.db import get_engine

    is_scenario = "kind" not in spec_or_scenario and isinstance(spec_or_scenario.get("spec"), dict)
    spec = scenario_spec(spec_or_scenario) if is_scenario else spec_or_scenario
    try:
        with Session(get_engine()) as session:
            run = record_completed_run(
                session,
                spec=spec,
                result=result,
                actor="cli",
                scenario_found=spec_or_scenario if is_scenario else None,
            )
            run_id = run.id
        typer.echo(f"recorded as benchmark run {run_id}", err=True)
    except SQLAlchemyError as exc:
        typer.echo(
            f"warning: not recorded ({type(exc).__name__}); run `ledger db upgrade`", err=True
        )


@bench_app.command("rerun")
def rerun_cmd() -> None:
    """Queue every bundled scenario again; a worker (or `ledger serve`) executes them."""
    from sqlmodel import Session

    from app.benchmarks.service import queue_bundled_scenarios
    from app.core.db import get_engine

    with Session(get_engine()) as session:
        ids = queue_bundled_scenarios(session, again=True)
    typer.echo(json.dumps({"queued": ids}))


@bench_app.command("sweep")
def sweep_cmd(
    spec_file: Annotated[
        Path, typer.Argument(help="An llm-training spec (YAML or JSON) or scenario id")
    ],
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler, tcp://host:port")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search the valid tp/pp/dp/micro-batch layouts and report the fastest that fit."""
    scheduler = scheduler or os.environ.get("LEDGER_DASK_SCHEDULER") or None
    try:
        spec = _load_specs(spec_file) if spec_file.is_file() else api.load_scenario(str(spec_file))
        res = api.sweep(spec, scheduler=scheduler, top=top)
    except SpecFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except SpecError as exc:
        if as_json:
            _emit(exc.to_dict())
        else:
            typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        _emit(res)
        return
    typer.echo(
        f"{res['evaluated']} layouts, {res['feasible']} fit, "
        f"{res['evaluations_per_s']:.0f} evaluations/s ({res['backend']})"
    )
    typer.echo(
        f"{'tp':>4} {'pp':>4} {'dp':>5} {'v':>2} {'mb':>3} {'zero':>4} {'recompute':>9} "
        f"{'iter s':>9} {'MFU':>6} bottleneck"
    )
    for b in res["best"]:
        lay = b["layout"]
        typer.echo(
            f"{lay['tp']:>4} {lay['pp']:>4} {lay['dp']:>5} {lay['interleave']:>2} "
            f"{lay['micro']:>3} {lay['zero']:>4} {lay['recompute']:>9} "
            f"{b['iteration_time_s']:>9.3f} {b['mfu']:>6.3f} {b['bottleneck']}"
        )


@bench_app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of a spec (every workload kind) and of a scenario file."""
    _emit(api.spec_schema())


@bench_app.command("validate")
def validate_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Predict every calibration row and print the error per row and MAPE per source."""
    res = api.validate()
    if as_json:
        _emit(res)
    else:
        typer.echo(
            f"{'row':>15} {'source':<19} {'model':<13} {'layout':<44} {'metric':<23} "
            f"{'measured':>9} {'predicted':>9} {'error %':>8} fits"
        )
        for r in res["rows"]:
            typer.echo(
                f"{r['row_id']:>15} {r['source_id']:<19} {r['model'][:13]:<13} "
                f"{r['layout']:<44} {r['metric'][:23]:<23} {r['measured']:>9.2f} "
                f"{r['predicted']:>9.2f} {r['error_pct']:>8.1f} {'yes' if r['fits'] else 'NO'}"
            )
        for src, g in res["gates"].items():
            state = "ok" if g["ok"] else "FAIL"
            fit = "all rows fit" if g["all_fit"] else "SOME ROWS DO NOT FIT"
            typer.echo(
                f"MAPE {src}: {g['mape_pct']:.2f}% over {g['rows']} rows (gate <= "
                f"{g['limit_pct']}%), worst row {g['worst_row']}, {fit}: {state}"
            )
        typer.echo("")
        typer.echo("Unstated settings searched (auto) instead of assumed:")
        for r in res["auto_rows"]:
            if r["chosen"]:
                chosen = " ".join(f"{k}={v}" for k, v in r["chosen"].items())
                typer.echo(
                    f"{r['row_id']:>15} {chosen:<44} {r['error_pct']:>8.1f} "
                    f"{'yes' if r['fits'] else 'NO'}"
                )
        for src, mape in res["auto_mape_pct"].items():
            typer.echo(f"MAPE {src} with auto: {mape:.2f}%")
        typer.echo(f"every row fits with auto: {'yes' if res['auto_all_fit'] else 'NO'}")
        typer.echo("")
        typer.echo(
            "Leave one source out (each parameter's best value over its grid, the others at "
            "their library values):"
        )
        typer.echo(
            f"{'hardware':<14} {'parameter':<38} {'bounds':<13} {'value':>6} "
            f"{'all':>6} {'LOSO range':<13} at bound"
        )
        for p in res["leave_one_source_out"]:
            lo, hi = p["bounds"]
            bounds = f"{lo:g}-{hi:g}"
            loso = f"{p['loso_min']:g}-{p['loso_max']:g}"
            typer.echo(
                f"{p['hardware']:<14} {p['parameter']:<38} {bounds:<13} {p['value']:>6g} "
                f"{p['best_all_sources']:>6g} {loso:<13} {'YES' if p['at_bound'] else 'no'}"
            )
    if not res["ok"]:
        sys.exit(1)
