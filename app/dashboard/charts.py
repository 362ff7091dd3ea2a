"""Chart data built from the ledger; static/js/charts.js draws it (no inline scripts)."""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from app.benchmarks import service as benchmarks_service
from app.capabilities.models import Capability, CapabilityPublic
from app.claims.models import ClaimPublic
from app.core.schema import shown_date
from app.dashboard.templating import LADDER, LEVEL_LABELS, humanize, level_rank
from app.history.models import StatusChange

TIMELINE_START = dt.date(2019, 1, 1)
_T = TypeVar("_T")


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ClaimMark(NamedTuple):
    """What the capability chart reads of a claim."""

    stated_on: dt.date
    precision: str
    implied: str
    text: str


class EvidenceMark(NamedTuple):
    """What the capability chart reads of an evidence item (`claim_level`: its claim's)."""

    date: dt.date
    precision: str
    title: str
    level: str | None
    stance: str
    counts: bool
    claim_level: str | None


def capability_timeline(
    cap: CapabilityPublic,
    claims: Iterable[ClaimMark],
    evidence: Iterable[EvidenceMark],
    history_oldest_first: Sequence[StatusChange],
    day: dt.date,
) -> dict[str, Any]:
    """Claims, evidence and the shown status of one capability on a 2019→today time axis.

    Every claim and item is drawn, a month's several at one level as one counted point.
    """
    claim_points = gathered(
        ((c.stated_on, level_rank(c.implied), None, c) for c in claims),
        lambda c: {
            "x": c.stated_on,
            "when": shown_date(c.stated_on, c.precision),
            "label": _short(c.text),
        },
        "claims",
    )
    counting: list[tuple[dt.date, float, str | None, EvidenceMark]] = []
    other: list[tuple[dt.date, float, str | None, EvidenceMark]] = []
    contradicting: list[tuple[dt.date, float, str | None, EvidenceMark]] = []
    for item in evidence:
        if item.stance == "contradicts":
            # Drawn at the level its claim implied: the height it says was not reached.
            level = item.claim_level or cap.assessment.claimed_status
            contradicting.append((item.date, level_rank(level), None, item))
        else:
            placed = (item.date, level_rank(item.level), item.level, item)
            (counting if item.counts else other).append(placed)

    def point(item: EvidenceMark) -> dict[str, Any]:
        return {
            "x": item.date,
            "when": shown_date(item.date, item.precision),
            "label": _short(item.title),
        }

    status_points = []
    if history_oldest_first:
        first = history_oldest_first[0]
        status_points.append({"x": TIMELINE_START, "y": level_rank(first.from_status), "label": ""})
        for row in history_oldest_first:
            status_points.append(
                {
                    "x": row.effective_on,
                    "y": level_rank(row.to_status),
                    "label": f"{LEVEL_LABELS[row.from_status]} → {LEVEL_LABELS[row.to_status]}",
                }
            )
    else:
        status_points.append(
            {"x": TIMELINE_START, "y": level_rank(cap.assessment.status), "label": ""}
        )
    status_points.append({"x": day, "y": level_rank(cap.assessment.status), "label": "today"})
    series = [
        {"name": "Status shown (from the history)", "style": "status", "points": status_points},
        {"name": "Claim (status it implied)", "style": "claim", "points": claim_points},
        {
            "name": "Evidence that counts",
            "style": "evidence",
            "points": gathered(counting, point, "items"),
        },
        {
            "name": "Evidence that does not count",
            "style": "weak",
            "points": gathered(other, point, "items"),
        },
        {
            "name": "Evidence contradicting a claim",
            "style": "contradicts",
            "points": gathered(contradicting, point, "items"),
        },
    ]
    if cap.outcome != "active" and cap.outcome_date:
        series.append(
            {
                "name": f"Outcome: {cap.outcome}",
                "style": "outcome",
                "points": [{"x": cap.outcome_date, "y": 0, "label": f"{cap.name} {cap.outcome}"}],
            }
        )
    return {
        "kind": "level-timeline",
        "start": TIMELINE_START,
        "end": day,
        "levels": [LEVEL_LABELS[code] for code in LADDER],
        "series": [s for s in series if s["points"]],
    }


def global_timeline(
    rows: Sequence[str],
    row_of: Mapping[int, int],
    claims: Iterable[tuple[int, dt.date, str, int]],
    evidence: Iterable[tuple[int, dt.date, str, str, str | None, str]],
    changes: Iterable[tuple[int, str, str, dt.date]],
    outcomes: Iterable[Capability],
    event_names: Mapping[int, str],
    day: dt.date,
) -> dict[str, Any]:
    """Claims, evidence, status changes and outcomes over time, one row per row label.

    `row_of` maps a capability id to its row; capabilities without a row are left out, and
    several capabilities may share a row (a hierarchy folded into its top). The rows come as
    plain tuples: claims (capability id, stated on, its precision, event id), evidence
    (capability id, date, its precision, title, the level it counts toward or None, stance),
    changes (capability id, from, to, effective on), oldest first. A point's `when` is its
    date as precisely as known.
    """
    grouped: dict[tuple[int, dt.date, str, int], int] = defaultdict(int)
    for cap_id, stated_on, precision, event_id in claims:
        row = row_of.get(cap_id)
        if row is not None:
            grouped[(row, stated_on, precision, event_id)] += 1
    claim_points = [
        {
            "x": date,
            "when": shown_date(date, precision),
            "y": row - 0.22,
            "label": f"{count} claim{'s' if count > 1 else ''} at "
            + event_names.get(event, str(event)),
            "count": count,
        }
        for (row, date, precision, event), count in sorted(grouped.items(), key=lambda kv: kv[0][1])
    ]

    def colour(level: str | None, stance: str) -> str:
        # Items that move nothing (inconclusive, not found, or support that does not count,
        # such as a simulation) are grey: never the contradiction red, never a level.
        if stance == "supports":
            return level or "not_assessed"
        return "contradicts" if stance == "contradicts" else "not_assessed"

    evidence_points = gathered(
        (
            (date, row_of[cap_id], colour(level, stance), (date, precision, title, level, stance))
            for cap_id, date, precision, title, level, stance in evidence
            if cap_id in row_of
        ),
        lambda item: {
            "x": item[0],
            "when": shown_date(item[0], item[1]),
            "label": _short(item[2]) + _evidence_note(item[3], item[4]),
        },
        "evidence items",
    )
    change_points = [
        {
            "x": effective_on,
            "y": row_of[cap_id] + 0.22,
            "label": f"{LEVEL_LABELS[from_status]} → {LEVEL_LABELS[to_status]}",
            "level": to_status,
        }
        for cap_id, from_status, to_status, effective_on in changes
        if cap_id in row_of
    ]
    outcome_points = [
        {"x": c.outcome_date, "y": row_of[c.id], "label": f"{c.outcome} ({c.name})"}
        for c in outcomes
        if c.id is not None and c.id in row_of and c.outcome != "active" and c.outcome_date
    ]
    series = [
        {"name": "Claims made", "style": "claim", "points": claim_points},
        {"name": "Evidence", "style": "evidence", "points": evidence_points},
        {"name": "Status change", "style": "change", "points": change_points},
        {"name": "Abandoned / superseded", "style": "outcome", "points": outcome_points},
    ]
    return {
        "kind": "capability-timeline",
        "start": TIMELINE_START,
        "end": day,
        "rows": list(rows),
        "series": [s for s in series if s["points"]],
    }


def gathered(
    items: Iterable[tuple[dt.date, float, str | None, _T]],
    single: Callable[[_T], dict[str, Any]],
    several: str,
) -> list[dict[str, Any]]:
    """Return one point per month, height and colour of the items, saying how many it stands for.

    Items come as (date, height, colour level or None, item). A month's lone item at its height
    and colour is drawn as itself (`single`, at its own date); several are one point at the
    month's start labelled with their number. Every point's `count` says how many items it
    stands for, so a chart's points add up to every item and none is left out.
    """
    groups: dict[tuple[dt.date, float, str | None], list[_T]] = {}
    for day, y, level, item in items:
        groups.setdefault((day.replace(day=1), y, level), []).append(item)
    points: list[dict[str, Any]] = []
    for (month, y, level), members in sorted(groups.items(), key=lambda kv: kv[0][0]):
        if len(members) == 1:
            point = {"y": y, **single(members[0])}
        else:
            point = {"x": month, "when": month.strftime("%b %Y"), "y": y}
            point["label"] = f"{len(members):,} {several}"
        if level is not None:
            point["level"] = level
        points.append({**point, "count": len(members)})
    return points


def _evidence_note(level: str | None, stance: str) -> str:
    if stance != "supports":
        return f" ({humanize(stance)})"
    return "" if level else " (does not count)"


def claimed_vs_simulated(
    claims: Sequence[ClaimPublic], simulated: Mapping[str, Sequence[dict[str, Any]]]
) -> dict[str, Any] | None:
    """What the latest simulations predict for a capability's claims, as % of each claim."""
    # A reader knows a claim by what it says, not by its slug.
    texts = {c.slug: c.text for c in claims}
    return claimed_vs_simulated_comparisons(
        [
            {**result, "claim": slug, "label": texts[slug]}
            for slug, results in simulated.items()
            if slug in texts
            for result in results
        ]
    )


def claimed_vs_simulated_comparisons(
    comparisons: Sequence[dict[str, Any]],
) -> dict[str, Any] | None:
    """Chart data from claim comparisons ({claim, claimed, simulated, unit, verdict, role}).

    Only predictions are drawn: a figure the simulation assumes would come back at 100 % and
    read as a confirmation, and arithmetic on the claims is not a simulation. A finding of
    throughput (what a workload sustains beside a claimed peak) is drawn beside its claim, in
    one bar pair: the peak at 100 % and what the simulation predicts. Other findings (a count
    of SoCs, the frame rate of an illustrative network) are told in words, not drawn as if
    they measured the claim.
    """
    bars = []
    for item in comparisons:
        if item.get("role") != "predicted":
            continue
        finding = benchmarks_service.comparison_kind(item) == "finding"
        if finding and benchmarks_service.share_of_peak(item) is None:
            continue
        claimed, simulated = item.get("claimed"), item.get("simulated")
        if not isinstance(claimed, int | float) or not isinstance(simulated, int | float):
            continue
        if not claimed:
            continue
        label = _short(str(item.get("label") or item.get("claim", "?")), 60)
        if finding:  # two workloads can each sustain a share of the same peak
            on = f" on {item['workload']}" if item.get("workload") else ""
            label += f" (sustained{on}: a finding)"
        bars.append(
            {
                "label": label,
                "claimed": claimed,
                "simulated": simulated,
                "unit": item.get("unit", ""),
                "percent": round(100 * simulated / claimed, 1),
                "finding": finding,
            }
        )
    if not bars:
        return None
    return {"kind": "claimed-vs-simulated", "bars": bars, "height": box_for_rows(len(bars))}


def assumed_inputs(
    claims: Sequence[ClaimPublic], simulated: Mapping[str, Sequence[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The claims of a capability that simulations take as inputs, with the runs that do."""
    out = []
    for claim in claims:
        runs = [c for c in simulated.get(claim.slug, ()) if c.get("kind") == "assumed"]
        if runs:
            out.append({"claim": claim, "runs": runs})
    return out


# Rows each chart box holds at about 46 px a row (two lines of label), after the axis and legend.
_BOX_ROWS = (("short", 3), ("normal", 5), ("tall", 8))


def box_for_rows(rows: int) -> str:
    """Return the chart box (a fixed height, so nothing shifts when it draws) that fits the rows."""
    return next((box for box, fits in _BOX_ROWS if rows <= fits), "taller")
