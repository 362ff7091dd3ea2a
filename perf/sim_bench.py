"""Simulator speed: evaluations per second, one at a time and vectorised, on one core.

Run: ``python perf/sim_bench.py``. Prints a table; numbers depend on the machine.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# One core: keep BLAS and numpy's helpers single-threaded before numpy loads.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from app.sim import api  # noqa: E402
from app.sim.hardware import resolve  # noqa: E402
from app.sim.sweep import candidates, eval_chunk  # noqa: E402
from app.sim.training import parse_model  # noqa: E402

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


def main() -> None:
    """Print the benchmark table."""
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


if __name__ == "__main__":
    main()
