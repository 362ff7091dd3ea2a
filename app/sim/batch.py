"""Evaluate ``llm-training`` specs: one spec, a batch, or a spec with ``auto`` settings.

Every path is the same three steps on arrays: :func:`app.sim.parse.parse` reads the specs
column-wise and checks them against one table of rules; the valid ones are grouped by what
cannot vary inside one call of :func:`app.sim.training.core` (the hardware after overrides,
the precision, the training stack and which overlaps it decides) and evaluated together;
:func:`app.sim.summary.summarize` turns the arrays into results. One spec is a batch of one,
so a batch gives exactly what evaluating each spec alone gives. One spec's error stays in its
own entry.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from app.sim.errors import SpecError
from app.sim.limits import EVAL_CHUNK, MAX_SWEEP_LAYOUTS, check_budget
from app.sim.parse import Parsed, parse
from app.sim.summary import Finish, Result, Summary, ToJson, summarize
from app.sim.training import RECOMPUTE, core


def vectorisable(spec: dict[str, Any]) -> bool:
    """Return whether a checked spec is a plain ``llm-training`` spec on a fixed layout (no
    ``auto`` layout or setting, which are searches of their own)."""
    return (
        spec.get("kind") == "llm-training"
        and spec.get("parallelism") != "auto"
        and not auto_keys(spec)
    )


def _evaluate_groups(
    parsed: Parsed, members_of: dict[Any, list[int]] | None = None
) -> Iterator[tuple[list[int], Summary | Exception]]:
    """Yield each chunk of valid specs with its summary (or the model's error for all)."""
    for key, members in (members_of or parsed.groups()).items():
        system, precision = parsed.systems[key[0]], key[1]
        for start in range(0, len(members), EVAL_CHUNK):
            chunk = members[start : start + EVAL_CHUNK]
            idx = np.array(chunk)
            models, lays = parsed.model(idx), parsed.layout(idx, key)
            try:
                r = core(system, models, lays, precision)
                yield chunk, summarize(system, models, lays, precision, r, len(chunk))
            except Exception as exc:  # the model failed for the whole group alike
                yield chunk, exc


def evaluate_training(spec: dict[str, Any]) -> Result:
    """Evaluate one ``llm-training`` spec (a batch of one); raises its SpecError.

    Settings given as ``auto`` are searched (:func:`evaluate_auto`).
    """
    auto = auto_keys(spec)
    if auto:
        return evaluate_auto(spec, auto)
    parsed = parse([spec])
    if parsed.errors[0] is not None:
        raise parsed.errors[0]
    for _, summary in _evaluate_groups(parsed):
        if isinstance(summary, Exception):
            raise summary
        return summary.mapping(0)
    raise AssertionError("a valid spec is in one group")  # pragma: no cover


def evaluate_training_batch(
    items: list[tuple[int, dict[str, Any]]], finish: Finish, to_json: ToJson | None = None
) -> Iterator[tuple[int, Result | bytes]]:
    """Yield ``(index, result or error)`` for each checked ``(index, spec)``.

    ``finish(result, compare, claims, numbers_checked)`` adds the claim comparisons and checks
    the result, as :func:`app.sim.api.evaluate` does for one spec. With ``to_json``, a result
    without comparisons comes as the bytes ``to_json`` would give it, written from the arrays
    directly.
    """
    parsed = parse([spec for _, spec in items])
    for j, err in enumerate(parsed.errors):
        if err is not None:
            yield items[j][0], err.to_dict()
    for chunk, summary in _evaluate_groups(parsed):
        if isinstance(summary, Exception):
            for j in chunk:
                yield items[j][0], error_entry(summary)
            continue
        lines: list[bytes | None] = [None] * len(chunk)
        if to_json is not None:
            lines = summary.lines(to_json, finish)
        mappings: list[Result] | None = None
        for pos, j in enumerate(chunk):
            i, spec = items[j]
            compare = spec.get("compare")
            try:
                line = lines[pos]
                if line is not None and compare is None:
                    yield i, line
                    continue
                if to_json is None and mappings is None:
                    mappings = summary.mappings()
                res = mappings[pos] if mappings is not None else summary.mapping(pos)
                yield i, finish(res, compare, spec.get("claims"), summary.ok[pos])
            except Exception as exc:  # reported in this spec's entry
                yield i, error_entry(exc)


# ---- auto settings ----

# Settings a spec may leave to the runner, as (section, key, field named in errors).
AUTO_SETTINGS = {
    "interleave": ("parallelism", "interleave", "parallelism.interleave"),
    "micro": ("batch", "micro", "batch.micro"),
    "recompute": ("", "recompute", "recompute"),
}
# The search's bounds: interleaves beyond 64 chunks per rank and micro-batches beyond 1,024
# sequences are never faster (the bubble and the per-kernel cost stop shrinking) and no
# published recipe uses them.
AUTO_MAX_INTERLEAVE = 64
AUTO_MAX_MICRO = 1024


def _holder(spec: dict[str, Any], sec: str) -> Any:
    return spec.get(sec) if sec else spec


def auto_keys(spec: dict[str, Any]) -> list[str]:
    """Return the settings a training spec leaves to the runner (given as ``auto``)."""
    out = []
    for name, (sec, key, _) in AUTO_SETTINGS.items():
        holder = _holder(spec, sec)
        if isinstance(holder, dict) and holder.get(key) == "auto":
            out.append(name)
    return out


def auto_candidates(spec: dict[str, Any], auto: list[str]) -> list[dict[str, Any]]:
    """Return the specs the ``auto`` settings expand to, the given values kept.

    Interleave: 1 .. (layers + 2) / pp (1 without a pipeline); micro-batch: the divisors of
    ``global / dp`` (every candidate keeps the global batch given); recompute: none,
    selective, full. Each is bounded (``AUTO_MAX_*``) and the product by the sweep's budget.
    """
    par = dict(spec.get("parallelism") or {})
    bat = dict(spec.get("batch") or {})
    layers = int((spec.get("model") or {}).get("layers") or 1)
    pp, dp = par.get("pp", 1), par.get("dp", 1)
    inters: list[Any] = [par.get("interleave")]
    if "interleave" in auto:
        top = min(AUTO_MAX_INTERLEAVE, (layers + 2) // pp) if pp > 1 else 1
        inters = list(range(1, max(top, 1) + 1))
    micros: list[Any] = [bat.get("micro")]
    if "micro" in auto:
        glob = bat.get("global")
        if glob is None:
            raise SpecError("batch.global", "is required when batch.micro is auto")
        if glob % dp:
            raise SpecError("batch.global", f"{glob} not divisible by dp = {dp}")
        q = glob // dp
        micros = [d for d in range(1, min(q, AUTO_MAX_MICRO) + 1) if q % d == 0]
    rcs: list[Any] = list(RECOMPUTE) if "recompute" in auto else [spec.get("recompute")]
    check_budget(
        "auto",
        len(inters) * len(micros) * len(rcs),
        MAX_SWEEP_LAYOUTS,
        "candidate settings",
        "give one of interleave, micro or recompute",
    )
    out = []
    for v, mb, rc in itertools.product(inters, micros, rcs):
        p = {k: x for k, x in {**par, "interleave": v}.items() if x is not None}
        b = {k: x for k, x in {**bat, "micro": mb}.items() if x is not None}
        cand = {**spec, "parallelism": p, "batch": b, "recompute": rc}
        if rc is None:
            del cand["recompute"]
        out.append(cand)
    return out


def evaluate_auto(spec: dict[str, Any], auto: list[str]) -> Result:
    """Search the ``auto`` settings and return the fastest candidate that fits.

    Candidates a rule of the layout refuses (an interleave whose micro-batches do not divide
    by the pipeline, too many virtual stages) are skipped; when none is valid the first
    refusal is raised. When none fits, the candidate needing the least memory is returned
    (``fits: false``). ``result["auto"]`` names the values chosen and how many candidates
    were searched, valid and fitting.
    """
    cands = auto_candidates(spec, auto)
    parsed = parse(cands)
    groups = parsed.groups()
    if not groups:
        first = next(e for e in parsed.errors if e is not None)
        raise SpecError(
            AUTO_SETTINGS[auto[0]][2],
            f"no value of {', '.join(auto)} gives a valid layout ({first})",
        )
    # Candidates differ only in interleave, micro-batch and recompute: one group.
    ((chunk, summary),) = list(_evaluate_groups(parsed, groups))
    if isinstance(summary, Exception):
        raise summary
    fits = np.array(summary.fits) & np.array(summary.ok)
    if fits.any():
        best = int(np.argmin(np.where(fits, summary.iteration_time, np.inf)))
    else:
        best = int(np.argmin(summary.total_gb))
    res = summary.mapping(best)
    chosen = cands[chunk[best]]
    res["auto"] = {
        "chosen": {
            name: _holder(chosen, sec)[key]
            for name, (sec, key, _) in AUTO_SETTINGS.items()
            if name in auto
        },
        "searched": len(cands),
        "valid": len(chunk),
        "fitting": int(fits.sum()),
    }
    return res


def error_entry(exc: Exception) -> Result:
    """Return the batch entry of a spec that failed: the SpecError, or the exception named."""
    if isinstance(exc, SpecError):
        return exc.to_dict()
    return {"error": f"spec: {type(exc).__name__}: {exc}", "field": "spec"}
