"""Simulator speed: evaluations per second, one at a time and vectorised, on one core.

Run: ``python perf/sim_bench.py``. Prints tables; numbers depend on the machine, so compare
the rows of one run. The batch table writes 20,000 distinct valid llm-training specs
(``training_specs(20000, seed=7)``) to a JSON file (``--specs-out PATH`` keeps it) and times
``ledger bench run FILE --json`` as a new process, start-up included. To reproduce by hand::

    python perf/sim_bench.py --specs-out /tmp/specs-20k.json
    time ledger bench run /tmp/specs-20k.json --json > /dev/null
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One core: keep BLAS and numpy's helpers single-threaded before numpy loads.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from app.sim import api  # noqa: E402
from app.sim.hardware import resolve  # noqa: E402
from app.sim.parse import parse_model  # noqa: E402
from app.sim.sweep import candidates, eval_chunk  # noqa: E402

GPT3 = {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048, "vocab": 51200}
A100_SPEC = {
    "kind": "llm-training",
    "hardware": "a100-80gb-dgx",
    "model": GPT3,
    "parallelism": {"tp": 8, "pp": 16, "dp": 8, "interleave": 2, "sequence_parallel": True},
    "batch": {"micro": 1, "global": 1536},
    "precision": "bf16",
    "recompute": "selective",
}
EXAPOD_SPEC = {
    "kind": "llm-training",
    "hardware": "dojo-exapod",
    "model": GPT3,
    "parallelism": {
        "tp": 24,
        "pp": 24,
        "dp": 4,
        "interleave": 4,
        "zero": 1,
        "sequence_parallel": True,
    },
    "batch": {"micro": 4, "global": 1536},
    "precision": "bf16",
    "recompute": "full",
}


def one_at_a_time(spec: dict, seconds: float = 1.5) -> float:
    """Return api.evaluate calls per second (full parse, model and result mapping)."""
    api.evaluate(spec)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        api.evaluate(spec)
        n += 1
    return n / (time.perf_counter() - t0)


def vectorised(spec: dict, n_accel: int, use_all: bool, repeat: int = 20) -> tuple[int, float]:
    """Return (layouts, evaluations per second) of the vectorised core on a layout sweep."""
    sweep_spec = {**spec, "sweep": {"num_accelerators": n_accel, "use_all": use_all}}
    sweep_spec.pop("parallelism")
    system = resolve(spec["hardware"])
    model = parse_model(sweep_spec)
    lay = candidates(sweep_spec, model, system)
    # Tile the layout list so the timing is not dominated by Python call overhead.
    big = {k: np.tile(v, repeat) for k, v in lay.items()}
    eval_chunk(system, model, big, spec["precision"])
    t0 = time.perf_counter()
    eval_chunk(system, model, big, spec["precision"])
    dt = time.perf_counter() - t0
    return len(lay["tp"]), len(big["tp"]) / dt


def end_to_end_sweep(spec: dict, n_accel: int, use_all: bool) -> tuple[int, float]:
    """Return (layouts, seconds) of api.sweep including enumeration and ranking."""
    sweep_spec = {**spec, "sweep": {"num_accelerators": n_accel, "use_all": use_all}}
    sweep_spec.pop("parallelism")
    t0 = time.perf_counter()
    res = api.sweep(sweep_spec, top=10)
    return res["evaluated"], time.perf_counter() - t0


# Hardware the generated specs run on, with the accelerators each offers (inf: unbounded).
BATCH_HARDWARE: tuple[tuple[object, float], ...] = (
    ("a100-80gb-dgx", float("inf")),
    ("h100-80gb-dgx", float("inf")),
    ("dojo-exapod", 3000),
    ("dojo-system-tray", 150),
    ({"base": "a100-80gb-dgx", "overrides": {"network.inter_node.bandwidth_gbps": 50}}, 1e9),
)


def training_specs(n: int, seed: int = 7) -> list[dict]:
    """Return ``n`` distinct llm-training specs on fixed layouts that the schema accepts."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[dict] = []
    while len(out) < n:
        hardware, n_accel = rng.choice(BATCH_HARDWARE)
        heads = rng.choice((8, 16, 32, 48, 64, 96, 128))
        layers = rng.choice((12, 24, 32, 40, 48, 64, 80, 96))
        tp = rng.choice([t for t in (1, 2, 4, 8) if heads % t == 0])
        pp = rng.choice([p for p in (1, 2, 4, 8) if layers % p == 0])
        dp = rng.choice([d for d in (1, 2, 4, 8, 16) if tp * pp * d <= n_accel])
        micro = rng.choice((1, 2, 4))
        v = rng.choice([v for v in (1, 2) if layers % (pp * v) == 0 and (v == 1 or pp > 1)])
        micro_batches = pp * rng.randint(1, 16) if v > 1 else rng.randint(1, 64)
        spec = {
            "kind": "llm-training",
            "hardware": hardware,
            "model": {
                "layers": layers,
                "hidden": heads * rng.choice((64, 128)),
                "heads": heads,
                "seq_len": rng.choice((1024, 2048, 4096)),
                "vocab": rng.randint(32000, 64000),
            },
            "parallelism": {
                "tp": tp,
                "pp": pp,
                "dp": dp,
                "interleave": v,
                "sequence_parallel": rng.random() < 0.5,
                "zero": rng.choice((0, 1)),
            },
            "batch": {"micro": micro, "global": micro * dp * micro_batches},
            "precision": rng.choice(("bf16", "fp16")),
            "recompute": rng.choice(("none", "selective", "full")),
        }
        key = json.dumps(spec, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def batch_rates(n: int, specs_out: Path | None) -> list[tuple[str, int, float, float]]:
    """Return (path, specs, wall s, CPU s): one at a time in this process, and the batch CLI."""
    specs = training_specs(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = specs_out or Path(tmp) / "training-specs.json"
        path.write_text(json.dumps(specs))
        ledger = Path(sys.executable).with_name("ledger")
        cpu, started = _child_cpu_s(), time.perf_counter()
        done = subprocess.run(
            [str(ledger), "bench", "run", str(path), "--json"],
            stdout=subprocess.PIPE,
            check=True,
        )
        batch_s, batch_cpu = time.perf_counter() - started, _child_cpu_s() - cpu
    results = json.loads(done.stdout)
    failed = sum("error" in r for r in results)
    if len(results) != n or failed:
        raise SystemExit(f"batch run returned {len(results)} results, {failed} errors")
    sample = specs[: n // 10]
    cpu, started = time.process_time(), time.perf_counter()
    for spec in sample:
        api.evaluate(spec)
    single_s, single_cpu = time.perf_counter() - started, time.process_time() - cpu
    cpu, started = _child_cpu_s(), time.perf_counter()
    subprocess.run([str(ledger), "bench", "--help"], stdout=subprocess.DEVNULL, check=True)
    start_s, start_cpu = time.perf_counter() - started, _child_cpu_s() - cpu
    return [
        ("one at a time (api.evaluate, in process)", len(sample), single_s, single_cpu),
        ("batch (ledger bench run FILE --json)", n, batch_s, batch_cpu),
        ("  of which process start (ledger bench --help)", 0, start_s, start_cpu),
    ]


def main() -> None:
    """Print the benchmark tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs-out", type=Path, help="keep the generated batch spec file here")
    parser.add_argument("--batch", type=int, default=20_000, help="specs in the batch")
    args = parser.parse_args()
    rows = []
    for name, spec, n, use_all in (
        ("GPT-3 175B, 1,024 A100", A100_SPEC, 1024, True),
        ("GPT-3 175B, ExaPOD (3,000 D1)", EXAPOD_SPEC, 3000, False),
    ):
        single = one_at_a_time(spec)
        layouts, vec = vectorised(spec, n, use_all)
        ev, secs = end_to_end_sweep(spec, n, use_all)
        rows.append((name, single, layouts, vec, ev / secs, secs))
    t0 = time.perf_counter()
    reps = 50
    for _ in range(reps):
        api.evaluate(EXAPOD_SPEC)
    one_pred = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    api.evaluate(api.load_scenario("exapod-gpt3-175b"))
    auto_pred = time.perf_counter() - t0

    print(
        f"{'workload':<32} {'one-at-a-time/s':>16} {'layouts':>8} {'vectorised/s':>13} "
        f"{'sweep e2e/s':>12} {'sweep s':>8}"
    )
    for name, single, layouts, vec, e2e, secs in rows:
        print(f"{name:<32} {single:>16,.0f} {layouts:>8,} {vec:>13,.0f} {e2e:>12,.0f} {secs:>8.3f}")
    print(f"one ExaPOD-scale prediction (fixed layout): {one_pred * 1e3:.2f} ms")
    print(
        f"one ExaPOD-scale prediction with layout search (scenario exapod-gpt3-175b): "
        f"{auto_pred * 1e3:.1f} ms"
    )
    print("reference: Calculon ~620 evaluations/s one at a time (simulator-anchors.md)")
    print()
    batch = batch_rates(args.batch, args.specs_out)
    wall_1, cpu_1 = batch[0][1] / batch[0][2], batch[0][1] / batch[0][3]
    print(
        f"{'llm-training specs':<48} {'specs':>7} {'wall s':>7} {'eval/s':>8} {'ratio':>6} "
        f"{'CPU s':>6} {'eval/CPU s':>10} {'ratio':>6}"
    )
    for name, count, secs, cpu_s in batch:
        if not count:
            print(f"{name:<48} {'':>7} {secs:>7.2f} {'':>8} {'':>6} {cpu_s:>6.2f}")
            continue
        wall, per_cpu = count / secs, count / cpu_s
        print(
            f"{name:<48} {count:>7,} {secs:>7.2f} {wall:>8,.0f} {wall / wall_1:>6.1f} "
            f"{cpu_s:>6.2f} {per_cpu:>10,.0f} {per_cpu / cpu_1:>6.1f}"
        )


if __name__ == "__main__":
    main()
