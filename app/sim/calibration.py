"""Validation against the published training measurements in ``app/sim/data`` (and the fit).

``validate()`` predicts every row of the three calibration files and compares like with like:
- KORTHIKANTI22_T5 (A100) rows report the iteration time: compared directly.
- NARAYANAN21_T1 (A100) rows report TFLOP/s per GPU counted with Eq. 3 of the paper, which
  includes the forward recompute of every layer; the prediction is converted with the same
  formula.
- H100 rows (NeMo, Megatron-Bridge, NeMo AutoModel) are compared on tokens/s per GPU, which
  every release counts the same way. The long-sequence rows give only TFLOP/s; NeMo 24.03
  counts attention without the causal halving (its tokens/s in the row notes agree with that
  count), which is how ``model_flops`` counts, so those rows compare model TFLOP/s.
Every row ran on real hardware, so a prediction that does not fit in memory is a failure.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np

from app.sim.batch import evaluate_training, evaluate_training_batch
from app.sim.hardware import build_view
from app.sim.parse import parse_one
from app.sim.paths import calibration_csv
from app.sim.training import core

HARDWARE = "a100-80gb-dgx"
H100 = "h100-80gb-dgx"
# Parameters the fit may move; everything else in the hardware library is datasheet data.
FIT_PATHS = ("compute.matmul_efficiency.max",)
H100_FIT_PATHS = (
    "compute.matmul_efficiency.max",
    "compute.matmul_efficiency.fp8_max",
    "compute.attention_efficiency",
    "compute.overlap_slowdown",
)
GATES = {"KORTHIKANTI22_T5": 5.0, "NARAYANAN21_T1": 10.0}
H100_GATE = 10.0


def _data_dir() -> Path:
    return Path(__file__).resolve().parent / "data"


def load_rows() -> list[dict[str, str]]:
    """Return the rows of every calibration file (A100 first), each tagged with its file."""
    out: list[dict[str, str]] = []
    for path in (
        calibration_csv(),
        _data_dir() / "h100-nemo.csv",
        _data_dir() / "h100-nemo-longseq.csv",
    ):
        with path.open(newline="") as fh:
            out.extend({**r, "_file": path.name} for r in csv.DictReader(fh))
    return out


def _interleave(row: dict[str, str], layers: int, pp: int) -> int:
    m = re.search(r"(?:interleave|VP)=(\d+)", row.get("other_parallel", "") or "")
    if m:
        return int(m.group(1))
    if pp == 1 or not row["source_id"].startswith("NARAYANAN"):
        return 1
    # Narayanan et al. ran Table 1 with the interleaved schedule but do not list the number of
    # chunks; take the smallest interleave > 1 that divides the layers of a stage.
    per_stage = layers // pp
    return next((v for v in range(2, per_stage + 1) if per_stage % v == 0), 1)


def _other(row: dict[str, str], key: str, default: int) -> int:
    m = re.search(rf"\b{key}=(\d+)", row.get("other_parallel", "") or "")
    return int(m.group(1)) if m else default


def is_h100(row: dict[str, str]) -> bool:
    """Return True for a row of one of the H100 files."""
    return row.get("_file", "").startswith("h100")


def row_spec(row: dict[str, str], hardware: Any = None, auto: bool = False) -> dict[str, Any]:
    """Build an llm-training spec from one CSV row.

    With ``auto``, the settings the row does not state (micro-batch, interleave, recompute) are
    ``auto`` instead of the assumed values, so the runner searches them.
    """
    spec = _h100_spec(row, hardware or H100) if is_h100(row) else _a100_spec(row, hardware)
    if auto:
        for key in unstated(row):
            if key == "micro":
                spec["batch"]["micro"] = "auto"
            elif key == "interleave":
                spec["parallelism"]["interleave"] = "auto"
            else:
                spec["recompute"] = "auto"
    return spec


def unstated(row: dict[str, str]) -> list[str]:
    """Return the settings of a row its source does not state (the spec assumes them)."""
    out = []
    if not (row.get("micro_batch") or "").strip():
        out.append("micro")
    stated_v = re.search(r"(?:interleave|VP)=(\d+)", row.get("other_parallel", "") or "")
    if int(row["pp"]) > 1 and not stated_v:
        out.append("interleave")
    # Narayanan's Eq. 3 implies full recompute; no H100 table states it.
    if not (row.get("recompute") or "").strip() and is_h100(row):
        out.append("recompute")
    return out


def _a100_spec(row: dict[str, str], hardware: Any) -> dict[str, Any]:
    layers, pp = int(row["layers"]), int(row["pp"])
    other = (row.get("other_parallel") or "").lower()
    recompute = (row.get("recompute") or "").strip() or "full"  # Eq. 3 implies full recompute
    precision = "bf16" if "bf16" in (row.get("precision") or "").lower() else "fp16"
    return {
        "kind": "llm-training",
        "hardware": hardware or HARDWARE,
        "model": {
            "layers": layers,
            "hidden": int(row["hidden"]),
            "heads": int(row["heads"]),
            "ffn_hidden": int(row["ffn_hidden"]),
            "seq_len": int(row["seq_len"]),
            "vocab": int(row["vocab"]),
        },
        "parallelism": {
            "tp": int(row["tp"]),
            "pp": pp,
            "dp": int(row["dp"]),
            "interleave": _interleave(row, layers, pp),
            "sequence_parallel": "sequence parallel" in other,
        },
        # Table 1 of Narayanan et al. does not list micro-batch sizes; 1 is assumed.
        "batch": {"micro": int(row["micro_batch"] or 1), "global": int(row["global_batch_seqs"])},
        "precision": precision,
        "recompute": recompute,
    }


def _h100_spec(row: dict[str, str], hardware: Any) -> dict[str, Any]:
    """Spec of an H100 row: what each table states, plus the stack's documented defaults."""
    layers, pp, tp = int(row["layers"]), int(row["pp"]), int(row["tp"])
    automodel = "AutoModel" in row.get("framework", "")
    fsdp = _other(row, "FSDP", 0) > 0 or automodel
    # Nemotron-22B's vocab is not published; its row notes give the family's 256k vocab.
    vocab = int(row["vocab"] or 256000)
    llama = "llama" in row["model"].lower()
    return {
        "kind": "llm-training",
        "hardware": hardware,
        "stack": "fsdp" if automodel else "nemo",
        "model": {
            "layers": layers,
            "hidden": int(row["hidden"]),
            "heads": int(row["heads"]),
            "kv_heads": int(row["kv_heads"] or row["heads"]),
            "ffn_hidden": int(row["ffn_hidden"]),
            "seq_len": int(row["seq_len"]),
            "vocab": vocab,
            # Llama is SwiGLU; GPT-3 is GeLU and Nemotron squared-ReLU (both ungated).
            "mlp": "swiglu" if llama else "gelu",
            "attention": "flash",  # Transformer Engine's fused attention
        },
        "parallelism": {
            "tp": tp,
            "cp": _other(row, "CP", 1),
            "pp": pp,
            "dp": int(row["dp"]),
            "interleave": _interleave(row, layers, pp),
            "sequence_parallel": tp > 1,  # NeMo enables it whenever tp > 1
            "zero": 3 if fsdp else 1,  # Megatron distributed optimizer = ZeRO-1
        },
        # The long-sequence table gives no micro-batch; 1 (the draft in its notes says 1).
        "batch": {"micro": int(row["micro_batch"] or 1), "global": int(row["global_batch_seqs"])},
        "precision": "bf16" if "bf16" in row["precision"].lower() else "fp8",
        # No table states recompute; AutoModel's recipe enables activation checkpointing.
        "recompute": "full" if automodel else "none",
    }


def predict_row(
    row: dict[str, str], overrides: dict[str, dict[str, float]] | None = None, auto: bool = False
) -> dict[str, Any]:
    """Return predicted and measured values for one row.

    With ``auto`` the row's unstated settings are searched (the fastest that fits is taken)
    instead of assumed; ``chosen`` names the values the search took.
    """
    base = H100 if is_h100(row) else HARDWARE
    ov = (overrides or {}).get(base)
    hardware: Any = {"base": base, "overrides": ov} if ov else base
    spec = row_spec(row, hardware, auto=auto)
    chosen: dict[str, Any] = {}
    if auto and unstated(row):
        chosen = evaluate_training(spec)["auto"]["chosen"]
        spec["parallelism"]["interleave"] = chosen.get(
            "interleave", spec["parallelism"]["interleave"]
        )
        spec["batch"]["micro"] = chosen.get("micro", spec["batch"]["micro"])
        spec["recompute"] = chosen.get("recompute", spec["recompute"])
    system, model, lay, precision = parse_one(spec)
    r = core(system, model, lay, precision)

    def one(key: str) -> float:
        return float(np.asarray(r[key]).reshape(-1)[0])

    it, n = one("iteration_time_s"), one("n_acc")
    if row["source_id"].startswith("NARAYANAN"):
        metric = "tflops_per_accel (Eq. 3)"
        measured = float(row["tflops_per_accel"])
        predicted = one("eq3_flops") / (it * n) / 1e12
    elif is_h100(row) and row.get("tokens_per_s_per_accel"):
        metric = "tokens_per_s_per_accel"
        measured = float(row["tokens_per_s_per_accel"])
        predicted = int(row["global_batch_seqs"]) * int(row["seq_len"]) / (it * n)
    elif is_h100(row):
        metric = "tflops_per_accel (full attn)"
        measured = float(row["tflops_per_accel"])
        predicted = one("model_flops") / (it * n) / 1e12
    else:
        metric = "iter_time_s"
        measured = float(row["iter_time_s"])
        predicted = it
    par = spec["parallelism"]
    return {
        "row_id": row["row_id"],
        "source_id": row["source_id"],
        "model": row["model"],
        "num_accel": int(row["num_accel"]),
        "layout": f"tp{par['tp']} cp{par.get('cp', 1)} pp{par['pp']} dp{par['dp']} "
        f"v{par['interleave']} mb{spec['batch']['micro']} {spec['precision']} "
        f"{spec['recompute']}" + (" sp" if par["sequence_parallel"] else ""),
        "metric": metric,
        "measured": measured,
        "predicted": predicted,
        "error_pct": (predicted - measured) / measured * 100.0,
        "fits": bool(one("fits")),
        "memory_gb": one("total_bytes") / 1e9,
        **({"chosen": chosen} if auto else {}),
    }


def validate(overrides: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    """Predict every calibration row; return per-row errors, MAPE per source and the gates."""
    rows = [predict_row(r, overrides) for r in load_rows()]
    by_src: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_src.setdefault(r["source_id"], []).append(r)
    mape = {k: float(np.mean([abs(x["error_pct"]) for x in v])) for k, v in by_src.items()}
    worst = {k: max(v, key=lambda x: abs(x["error_pct"]))["row_id"] for k, v in by_src.items()}
    gates = {}
    for src, group in by_src.items():
        limit = GATES.get(src, H100_GATE)
        all_fit = all(x["fits"] for x in group)
        gates[src] = {
            "mape_pct": mape[src],
            "limit_pct": limit,
            "rows": len(group),
            "all_fit": all_fit,
            "worst_row": worst[src],
            "ok": mape[src] <= limit and all_fit,
        }
    # The same rows with the unstated settings searched (``auto``) instead of assumed: every
    # row ran, so every one must fit; the error shows what the assumption is worth.
    auto_rows = [predict_row(r, overrides, auto=True) for r in load_rows()]
    auto_by: dict[str, list[float]] = {}
    for r in auto_rows:
        auto_by.setdefault(r["source_id"], []).append(abs(r["error_pct"]))
    return {
        "hardware": [HARDWARE, H100],
        "rows": rows,
        "auto_rows": auto_rows,
        "auto_mape_pct": {k: float(np.mean(v)) for k, v in auto_by.items()},
        "auto_all_fit": all(r["fits"] for r in auto_rows),
        "mape_pct": mape,
        "max_abs_error_pct": {
            k: float(max(abs(x["error_pct"]) for x in v)) for k, v in by_src.items()
        },
        "gates": gates,
        "ok": all(g["ok"] for g in gates.values()) and all(r["fits"] for r in auto_rows),
        "leave_one_source_out": leave_one_source_out(),
    }


# The values each fitted parameter may take (its bounds are the first and last).
GRIDS: dict[str, dict[str, np.ndarray]] = {
    H100: {
        "compute.matmul_efficiency.max": np.arange(0.50, 0.901, 0.02),
        "compute.matmul_efficiency.fp8_max": np.arange(0.40, 0.901, 0.02),
        "compute.attention_efficiency": np.arange(0.20, 0.901, 0.02),
        "compute.overlap_slowdown": np.arange(0.0, 0.501, 0.025),
    },
    HARDWARE: {
        "compute.matmul_efficiency.max": np.arange(0.60, 0.951, 0.01),
    },
}


def library_values(hardware: str) -> dict[str, float]:
    """Return the library's values of the fitted parameters of one description."""
    view = build_view(hardware)
    out: dict[str, float] = {}
    for path in H100_FIT_PATHS if hardware == H100 else FIT_PATHS:
        node: Any = view
        for k in path.split("."):
            node = node[k]
        out[path] = float(node["value"] if isinstance(node, dict) else node)
    return out


def _metrics(rows: list[dict[str, str]], hardware: str, values: dict[str, float]) -> np.ndarray:
    """Return every row's |error| in percent (inf where it does not fit), in one batch."""
    specs = [row_spec(r, {"base": hardware, "overrides": values}) for r in rows]
    results: list[Any] = [None] * len(specs)
    for i, res in evaluate_training_batch(list(enumerate(specs)), _unfinished):
        results[i] = res
    out = np.empty(len(rows))
    for j, (row, spec, res) in enumerate(zip(rows, specs, results, strict=True)):
        if not isinstance(res, dict) or "error" in res or not res["fits"]:
            out[j] = np.inf
            continue
        it, n = res["iteration_time_s"], res["num_accelerators"]
        m = spec["model"]
        if row["source_id"].startswith("NARAYANAN"):
            measured = float(row["tflops_per_accel"])
            B, sq, L, h, V = (
                spec["batch"]["global"],
                m["seq_len"],
                m["layers"],
                m["hidden"],
                m["vocab"],
            )
            eq3 = 96 * B * sq * L * h * h * (1 + sq / (6 * h) + V / (16 * L * h))
            predicted = eq3 / (it * n) / 1e12
        elif is_h100(row) and row.get("tokens_per_s_per_accel"):
            measured = float(row["tokens_per_s_per_accel"])
            predicted = spec["batch"]["global"] * m["seq_len"] / (it * n)
        elif is_h100(row):
            measured = float(row["tflops_per_accel"])
            predicted = res["model_tflops_per_accelerator"]
        else:
            measured, predicted = float(row["iter_time_s"]), it
        out[j] = abs(predicted - measured) / measured * 100.0
    return out


def _unfinished(res: dict[str, Any], compare: Any, claims: Any, checked: bool) -> dict[str, Any]:
    return res


def _score(hardware: str, errors: np.ndarray, sources: list[str], keep: set[str]) -> float:
    """The fit's score over the sources in ``keep`` (see :func:`fit`)."""
    by: dict[str, list[float]] = {}
    for e, src in zip(errors, sources, strict=True):
        if src in keep:
            by.setdefault(src, []).append(float(e))
    misfit = sum(not np.isfinite(v) for vals in by.values() for v in vals)
    ratios = [
        float(np.mean([v for v in vals if np.isfinite(v)] or [0.0])) / GATES.get(k, H100_GATE)
        for k, vals in by.items()
    ]
    if hardware == H100:
        return max(ratios) + 0.1 * float(np.mean(ratios)) + misfit
    return float(np.mean(ratios)) + misfit


def _best(
    hardware: str, grid: np.ndarray, errors: list[np.ndarray], sources: list[str], keep: set[str]
) -> float:
    """Return the grid value whose errors score best over the sources in ``keep``."""
    scores = [_score(hardware, e, sources, keep) for e in errors]
    return round(float(grid[int(np.argmin(scores))]), 4)


def leave_one_source_out() -> list[dict[str, Any]]:
    """Return, for every fitted parameter, its bounds, library value, the best value over all
    sources and the range of best values when each source in turn is left out.

    A profile: one parameter moves over its grid while the others keep their library values
    (a full refit per left-out source would take minutes; this takes seconds). Each grid value
    is one batch of the description's calibration rows; leaving a source out only re-scores
    the stored errors.
    """
    out = []
    all_rows = load_rows()
    for hardware in (HARDWARE, H100):
        rows = [r for r in all_rows if is_h100(r) == (hardware == H100)]
        sources = [r["source_id"] for r in rows]
        names = sorted(set(sources))
        base = library_values(hardware)
        for path, grid in GRIDS[hardware].items():
            errors = [_metrics(rows, hardware, {**base, path: float(g)}) for g in grid]

            loso = {
                src: _best(hardware, grid, errors, sources, set(names) - {src}) for src in names
            }
            lo, hi = round(float(grid[0]), 4), round(float(grid[-1]), 4)
            values = [base[path], *loso.values()]
            out.append(
                {
                    "hardware": hardware,
                    "parameter": path,
                    "bounds": [lo, hi],
                    "value": base[path],
                    "best_all_sources": _best(hardware, grid, errors, sources, set(names)),
                    "loso_min": min(loso.values()),
                    "loso_max": max(loso.values()),
                    "loso": loso,
                    "at_bound": any(abs(v - lo) < 1e-9 or abs(v - hi) < 1e-9 for v in values),
                }
            )
    return out


def fit(hardware: str = HARDWARE, steps: int = 3) -> dict[str, Any]:
    """Coordinate-descent fit of one description's FIT_PATHS on its calibration rows.

    The A100 score is the mean over its two sources of MAPE / gate (as in runner 0.1). The H100
    has ten source groups, each gated, so its score is the worst group's MAPE / gate plus a
    tenth of the mean. Every row that does not fit adds a penalty of 1. Used once to set the
    library values (docs/simulator.md); never at run time.
    """
    paths = H100_FIT_PATHS if hardware == H100 else FIT_PATHS
    grids = GRIDS[hardware]
    cur = library_values(hardware)
    rows = [r for r in load_rows() if is_h100(r) == (hardware == H100)]

    def score(vals: dict[str, float]) -> float:
        preds = [predict_row(r, {hardware: vals}) for r in rows]
        by: dict[str, list[float]] = {}
        for p in preds:
            by.setdefault(p["source_id"], []).append(abs(p["error_pct"]))
        misfit = sum(not p["fits"] for p in preds)
        ratios = [float(np.mean(v)) / GATES.get(k, H100_GATE) for k, v in by.items()]
        if hardware == H100:
            return max(ratios) + 0.1 * float(np.mean(ratios)) + misfit
        return float(np.mean(ratios)) + misfit

    best = score(cur)
    for _ in range(steps):
        for path in paths:
            for val in grids[path]:
                trial = dict(cur, **{path: float(val)})
                sc = score(trial)
                if sc < best - 1e-9:
                    best, cur = sc, trial
    return {"values": cur, "score": best}
