"""Benchmark run pages: list, start, and watch a run until its result is in."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from pydantic import ValidationError
from sqlmodel import Session

from app.benchmarks import service as benchmarks_service
from app.benchmarks.models import BenchmarkRunCreate
from app.core.db import SessionDep
from app.core.errors import ProblemError, not_found
from app.core.http import IdPath
from app.core.limits import InputError, parse_json
from app.core.versions import Shows
from app.dashboard import auth, charts, forms
from app.dashboard.templating import fmt_number, is_fragment_request, page, render
from app.status import snapshot

# Forms check the editor themselves (auth.require_editor); read pages go through `page`.
router = APIRouter(include_in_schema=False)
FINISHED = {"succeeded", "failed", "cancelled"}
RUN_FIELDS = ("scenario_id", "spec", "title")


# Headline figures worth showing when a result carries them: key, label, format, unit.
HEADLINES: list[tuple[str, str, str, str]] = [
    ("bottleneck", "Bottleneck", "text", ""),
    ("bound", "Bound by", "text", ""),
    ("fits", "Fits in memory", "bool", ""),
    ("meets_target", "Meets the target", "bool", ""),
    ("sustained_pflops", "Sustained", "num", "PFLOP/s"),
    ("peak_pflops", "Peak of the chips used", "num", "PFLOP/s"),
    ("system_peak_pflops", "System peak", "num", "PFLOP/s"),
    ("mfu", "Model FLOPs utilisation", "pct", ""),
    ("utilisation", "Utilisation", "pct", ""),
    ("iteration_time_s", "Iteration time", "num", "s"),
    ("tokens_per_s", "Throughput", "num", "tokens/s"),
    ("num_accelerators", "Accelerators used", "num", ""),
    ("parameters_b", "Parameters", "num", "billion"),
    ("parameters_m", "Parameters", "num", "million"),
    ("achieved_tflops", "Achieved", "num", "TFLOP/s"),
    ("time_s", "Time", "num", "s"),
    ("frame_latency_ms", "Frame latency", "num", "ms"),
    ("max_fps", "Maximum frame rate", "num", "frames/s"),
    ("target_fps", "Target frame rate", "num", "frames/s"),
    ("headroom", "Headroom", "num", "x"),
    ("redundancy_kept", "Redundancy kept", "bool", ""),
    ("power_kw", "Power", "num", "kW"),
]


def _fmt(value: Any, kind: str, unit: str = "") -> str:
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "pct" and isinstance(value, int | float):
        return f"{100 * value:.1f} %"
    if isinstance(value, int | float):
        return f"{fmt_number(value, 4)} {unit}".strip()
    return str(value).replace("_", " ")


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def headline(run: Any) -> str | None:
    """Return a run's result in one line for the runs list: sustained PFLOP/s, fits, frames/s."""
    result = run.result if run.state == "succeeded" else None
    if not isinstance(result, dict):
        return None
    if result.get("kind") == "sweep":
        best = [b for b in result.get("best") or [] if isinstance(b, dict)]
        if not best:
            return f"no layout fits, of {fmt_number(result.get('evaluated') or 0)} tried"
        top = best[0]
        found = f"best of {fmt_number(result.get('feasible') or 0)} fitting layouts"
        if _num(top.get("sustained_pflops")):
            return f"{found}: {fmt_number(top['sustained_pflops'], 4)} PFLOP/s sustained"
        return found
    parts = []
    if _num(result.get("sustained_pflops")):
        parts.append(f"{fmt_number(result['sustained_pflops'], 4)} PFLOP/s sustained")
    if isinstance(result.get("fits"), bool):
        parts.append("fits in memory" if result["fits"] else "does not fit in memory")
    if _num(result.get("max_fps")):
        parts.append(f"{fmt_number(result['max_fps'], 4)} frames/s")
    if not parts:
        parts = [
            f"{label}: {_fmt(result[key], kind, unit)}"
            for key, label, kind, unit in HEADLINES
            if key in result and (_num(result[key]) or isinstance(result[key], str | bool))
        ][:1]
    return " · ".join(parts) or None


LAYOUT_KEYS = ("tp", "cp", "pp", "dp", "micro", "recompute")


def sweep_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a sweep's best layouts as table rows, fastest first (the order the sweep ranks)."""
    rows = []
    for rank, best in enumerate(result.get("best") or [], start=1):
        if not isinstance(best, dict):
            continue
        found = best.get("layout")
        layout: dict[str, Any] = found if isinstance(found, dict) else {}
        rows.append(
            {
                "rank": rank,
                "layout": " · ".join(f"{k} {layout[k]}" for k in LAYOUT_KEYS if k in layout),
                "sustained": _fmt(best.get("sustained_pflops"), "num", "PFLOP/s")
                if _num(best.get("sustained_pflops"))
                else "—",
                "mfu": _fmt(best.get("mfu"), "pct") if _num(best.get("mfu")) else "—",
                "iteration": _fmt(best.get("iteration_time_s"), "num", "s")
                if _num(best.get("iteration_time_s"))
                else "—",
                "bottleneck": _fmt(best.get("bottleneck"), "text")
                if best.get("bottleneck")
                else "—",
            }
        )
    return rows


def result_view(result: dict[str, Any] | None, comparisons: list[dict[str, Any]]) -> dict[str, Any]:
    """Pick the headline figures and chart data out of a simulator result of any kind."""
    if not result:
        return {}
    headlines = [
        {"label": label, "value": _fmt(result[key], kind, unit)}
        for key, label, kind, unit in HEADLINES
        if key in result and result[key] is not None and not isinstance(result[key], dict | list)
    ]
    view: dict[str, Any] = {"headlines": headlines, "charts": []}
    breakdown = result.get("time_breakdown_s")
    if isinstance(breakdown, dict) and breakdown:
        view["charts"].append(
            {
                "id": "time-breakdown",
                "title": "Where the time goes (one iteration)",
                "caption": "Seconds per iteration by component; the largest bar is the bottleneck.",
                "data": {
                    "kind": "bars",
                    "horizontal": True,
                    "labels": [k.replace("_", " ") for k in breakdown],
                    "datasets": [{"label": "seconds", "values": list(breakdown.values())}],
                    "x_title": "seconds",
                },
            }
        )
    tiers = result.get("memory_tiers")
    if isinstance(tiers, list) and tiers:
        view["charts"].append(
            {
                "id": "memory",
                "title": "Memory used against capacity, per accelerator",
                "caption": "GB per accelerator in each memory tier; used above capacity means it does not fit.",
                "data": {
                    "kind": "bars",
                    "labels": [str(t.get("tier", "?")).replace("_", " ") for t in tiers],
                    "datasets": [
                        {
                            "label": "used (GB)",
                            "values": [t.get("used_gb", 0) for t in tiers],
                            "color": "#1d4ed8",
                        },
                        {
                            "label": "capacity (GB)",
                            "values": [t.get("capacity_gb", 0) for t in tiers],
                            "color": "#9ca3af",
                        },
                    ],
                    "y_title": "GB",
                },
            }
        )
    if isinstance(result.get("sustained_pflops"), int | float) and isinstance(
        result.get("peak_pflops"), int | float
    ):
        labels = ["sustained (simulated)", "peak of the chips used"]
        values = [result["sustained_pflops"], result["peak_pflops"]]
        if isinstance(result.get("system_peak_pflops"), int | float):
            labels.append("claimed system peak")
            values.append(result["system_peak_pflops"])
        view["charts"].append(
            {
                "id": "peak-vs-sustained",
                "title": "Sustained against peak PFLOP/s",
                "caption": "The claimed figure is a peak; the simulation estimates what a real workload sustains.",
                "data": {
                    "kind": "bars",
                    "horizontal": True,
                    "labels": labels,
                    "datasets": [{"label": "PFLOP/s", "values": values}],
                    "x_title": "PFLOP/s",
                },
            }
        )
    points = result.get("points")
    if isinstance(points, list) and points and isinstance(points[0], dict):
        x_key = next((k for k in ("chips", "devices", "n", "size") if k in points[0]), None)
        # A point that does not fit never ran: it is left off rather than drawn at 0 %.
        ran = [p for p in points if isinstance(p, dict) and p.get("efficiency") is not None]
        if x_key and "efficiency" in points[0] and ran:
            view["charts"].append(
                {
                    "id": "scaling",
                    "title": "Scaling efficiency",
                    "caption": f"Efficiency against {x_key}; 100 % is perfect linear scaling."
                    + (
                        f" {len(points) - len(ran)} point(s) do not fit in memory and are not drawn."
                        if len(ran) < len(points)
                        else ""
                    ),
                    "data": {
                        "kind": "lines",
                        "labels": [p.get(x_key) for p in _sampled(ran)],
                        "datasets": [
                            {
                                "label": "efficiency (%)",
                                "values": [round(100 * p["efficiency"], 2) for p in _sampled(ran)],
                            },
                            {
                                "label": "ideal",
                                "values": [100 for _ in _sampled(ran)],
                                "dashed": True,
                                "color": "#9ca3af",
                            },
                        ],
                        "x_title": x_key,
                        "y_title": "% of linear",
                    },
                }
            )
    if comparisons:
        chart = charts.claimed_vs_simulated_comparisons(comparisons)
        if chart:
            view["charts"].append(
                {
                    "id": "claimed-vs-simulated",
                    "title": "Claimed against predicted",
                    "caption": "Each predicted figure as a percentage of the claimed figure; assumed inputs are not drawn.",
                    "data": chart,
                }
            )
    view["comparisons"] = comparisons
    if result.get("kind") == "sweep":
        view["sweep"] = sweep_table(result)
        view["sweep_counts"] = {
            "evaluated": result.get("evaluated"),
            "feasible": result.get("feasible"),
        }
    view["checks"] = [c for c in result.get("checks") or [] if isinstance(c, dict)]
    return view


# A run page shows at most this much of a result's JSON; the API link has all of it.
MAX_SHOWN_RESULT_CHARS = 60_000
# A chart draws at most this many points; longer series are sampled evenly (ends kept).
MAX_CHART_POINTS = 400


def _result_json(result: dict[str, Any] | None) -> dict[str, Any]:
    if not result:
        return {"result_json": None, "result_json_chars": 0, "result_json_shown": 0}
    text = json.dumps(result, indent=2, sort_keys=True, default=str)
    shown = text
    if len(text) > MAX_SHOWN_RESULT_CHARS:
        cut = text.rfind("\n", 0, MAX_SHOWN_RESULT_CHARS)
        shown = text[: cut if cut > 0 else MAX_SHOWN_RESULT_CHARS] + "\n…"
    return {"result_json": shown, "result_json_chars": len(text), "result_json_shown": len(shown)}


def _sampled(items: list[Any], most: int = MAX_CHART_POINTS) -> list[Any]:
    """At most ``most`` items, evenly spaced, the first and the last kept."""
    if len(items) <= most:
        return items
    step = (len(items) - 1) / (most - 1)
    return [items[round(i * step)] for i in range(most)]


def _run_context(session: Session, run: Any) -> dict[str, Any]:
    comparisons = (
        benchmarks_service.comparisons(run.result or {}) if run.state == "succeeded" else []
    )
    if comparisons:
        # A reader knows a claim by what it says; the slug stays in the link.
        wanted = {c["claim"] for c in comparisons}
        texts = {c.slug: c.text for c in snapshot.get(session).claims if c.slug in wanted}
        comparisons = [{**c, "label": texts.get(c["claim"])} for c in comparisons]
    return {
        "run": run,
        "finished": run.state in FINISHED,
        "view": result_view(run.result if run.state == "succeeded" else None, comparisons),
        "spec_json": json.dumps(run.spec, indent=2, sort_keys=True, default=str),
        **_result_json(run.result),
        "environment": run.environment or {},
        "api_twin": f"/api/v1/benchmark-runs/{run.id}",
    }


@router.get("/runs")
async def runs_page(request: Request, cursor: Annotated[str | None, Query(max_length=500)] = None):
    """Past and current runs, and the scenarios that can be started."""

    def build(session: Session) -> dict[str, Any]:
        runs, next_cursor = benchmarks_service.list_runs(session, limit=30, cursor=cursor or None)
        return {
            "runs": runs,
            "headlines": {r.id: headline(r) for r in runs},
            "next_cursor": next_cursor,
            "cursor": cursor,
            "active": any(r.state not in FINISHED for r in runs),
            "scenarios": benchmarks_service.scenarios(),
            "api_twin": "/api/v1/benchmark-runs",
        }

    block = "runs_table" if is_fragment_request(request, "runs-table") else None
    return await page(request, "runs.html", build, block=block, shows=Shows.runs)


@router.get("/capabilities/{slug}/runs")
async def capability_runs_page(request: Request, slug: Annotated[str, Path(max_length=120)]):
    """The latest runs bearing on a capability; its page loads this part on its own.

    Kept apart from the capability's page, whose cached copy lasts until the ledger changes:
    a run's progress moves this part only.
    """

    def build(session: Session) -> dict[str, Any]:
        cap = snapshot.get(session).capability_by_slug.get(slug)
        if cap is None:
            raise not_found("capability", slug)
        runs = benchmarks_service.runs_for_capability(session, slug, limit=10)
        return {
            "cap": cap,
            "runs": runs,
            "active": any(r.state not in FINISHED for r in runs),
            "api_twin": f"/api/v1/benchmark-runs?capability={slug}",
        }

    block = "recent_runs" if is_fragment_request(request, "recent-runs") else None
    return await page(request, "capability_runs.html", build, block=block, shows=Shows.both)


@router.get("/runs/new")
def new_run_form(request: Request, session: SessionDep, scenario: str = ""):
    """Choose a scenario, or paste a custom spec."""
    auth.require_editor(request, session)
    return render(
        request,
        "run_new.html",
        {
            "scenarios": benchmarks_service.scenarios(),
            "form": {"scenario_id": scenario, "spec": "", "title": ""},
            "api_twin": "/api/v1/scenarios",
        },
    )


@router.post("/runs")
def start_run(
    request: Request,
    session: SessionDep,
    scenario_id: Annotated[str, Form(max_length=120)] = "",
    spec: Annotated[str, Form(max_length=100_000)] = "",
    title: Annotated[str, Form(max_length=300)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
):
    """Queue a run and go to its page, which shows its progress."""
    editor = auth.require_editor(request, session)
    auth.verify_csrf(request, csrf_token)
    form = {"scenario_id": scenario_id, "spec": spec, "title": title}
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {"title": title.strip() or None}
    if spec.strip():
        try:
            parsed = parse_json(spec)
        except InputError as exc:
            parsed = None
            errors["spec"] = f"Paste the spec as a JSON object; this one is not valid JSON: {exc}"
        if parsed is not None and not isinstance(parsed, dict):
            errors["spec"] = 'Paste the spec as a JSON object, in braces: {"kind": …}.'
        payload["spec"] = parsed
    elif scenario_id:
        payload["scenario_id"] = scenario_id
    else:
        errors["scenario_id"] = "Choose a scenario, or paste a spec below."
    if not errors:
        try:
            run = benchmarks_service.create_run(
                session, BenchmarkRunCreate.model_validate(payload), actor=auth.actor_name(editor)
            )
            return auth.redirect(request, f"/runs/{run.id}")
        except ProblemError as exc:
            field = "spec" if payload.get("spec") is not None else "scenario_id"
            errors[field] = exc.detail
        except ValidationError as exc:
            errors = forms.form_errors(exc, RUN_FIELDS)[0]
    return render(
        request,
        "run_new.html",
        {
            "scenarios": benchmarks_service.scenarios(),
            "form": form,
            **forms.error_context(errors, RUN_FIELDS),
            "api_twin": "/api/v1/scenarios",
        },
        status_code=422,
    )


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: IdPath):
    """One run: live progress while it runs, then its result."""

    def build(session: Session) -> dict[str, Any]:
        return _run_context(session, benchmarks_service.get_run(session, run_id))

    block = "run_status" if is_fragment_request(request, "run-status") else None
    # Its state and progress, and the claims its result compares with.
    return await page(request, "run.html", build, block=block, shows=Shows.both)


@router.post("/runs/{run_id}/cancel")
def cancel_run(
    request: Request,
    session: SessionDep,
    run_id: IdPath,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
):
    """Cancel a queued run, or ask a running one to stop."""
    editor = auth.require_editor(request, session)
    auth.verify_csrf(request, csrf_token)
    try:
        benchmarks_service.cancel_run(session, run_id, actor=auth.actor_name(editor))
    except ProblemError as exc:
        if exc.status != 409:
            raise
    return auth.redirect(request, f"/runs/{run_id}")
