"""Read pages: overview, capabilities, claims, evidence and the timeline."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.benchmarks import service as benchmarks_service
from app.capabilities import service as cap_service
from app.capabilities.models import CapabilityKind
from app.claims import service as claims_service
from app.claims.models import Verdict
from app.core.bounds import CAPABILITY_PAGE_ROWS
from app.core.errors import check_filter
from app.core.schema import Grade
from app.dashboard import capability, charts, doubts, feeds, overview, queries, timeline
from app.dashboard.templating import (
    LADDER,
    VERDICT_LABELS,
    humanize,
    is_fragment_request,
    level_label,
    page,
)
from app.events import service as events_service
from app.evidence import service as evidence_service
from app.evidence.checks import CHECKS_FILTERS, COMPUTED_KINDS, ChecksFilter, is_check
from app.evidence.models import EvidenceKind, Origin, Stance
from app.questions import service as questions_service
from app.sources import service as sources_service
from app.status import asof, casebook, snapshot
from app.status.asof import evidence_known
from app.status.rules import load_levels
from app.status.verdicts import load_rules

# Pages find out who is signed in themselves (app.dashboard.templating.page): a reader
# without a session is served from the shared cache before any dependency runs.
router = APIRouter(include_in_schema=False)
KINDS = [k.value for k in CapabilityKind]
CLAIM_SORTS = {
    "relevance": "Best match (when searching)",
    "stated_on": "Date stated (oldest first)",
    "-stated_on": "Date stated (newest first)",
    "deadline": "Deadline",
    "-value": "Figure value (largest first)",
    "slug": "Name (A to Z)",
}
PAGE_SIZE = 25


FLAG_VALUES = {"1": True, "true": True, "on": True, "0": None, "false": None}


def _flag(field: str, value: str | None) -> bool | None:
    """Read a checkbox filter: on, off, or refused (400) when it is neither."""
    return FLAG_VALUES[check_filter(field, value, FLAG_VALUES) or "0"]


def verdict_codes() -> list[Verdict]:
    """Return the verdict codes, in the verdict rules' order."""
    return [rule.code for rule in load_rules().verdicts]


# ---- Overview -----------------------------------------------------------------------------


@router.get("/")
async def overview_page(
    request: Request,
    status: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    page_number: Annotated[str | None, Query(alias="page", max_length=10)] = None,
):
    """Every capability in its hierarchy, a page at a time: evidence status beside claimed."""
    status, kind = check_filter("status", status, LADDER), check_filter("kind", kind, KINDS)

    def build(session: Session) -> dict[str, Any]:
        then = snapshot.get(session)
        rows = overview.matching(then, status, kind)
        pages = [str(n) for n in range(1, len(overview.page_starts(rows)) + 1)]
        shown = overview.page_of(then, rows, int(check_filter("page", page_number, pages) or 1))
        filtered = [level_label(status) if status else "", humanize(kind) if kind else ""]
        return {
            "rows": shown.rows,
            "pages": shown,
            # The names of the parts that limit the rows shown, linked from the row.
            "names": {
                slug: then.capability_by_slug[slug].name
                for cap, _depth in shown.rows
                if (slug := cap.assessment.limited_by) in then.capability_by_slug
            },
            "summary": overview.summary(then, verdict_codes(), LADDER),
            "status": status,
            "kind": kind,
            "kinds": KINDS,
            "questions": questions_service.list_public(session),
            "page_title": "Capabilities: " + ", ".join(f for f in filtered if f)
            if status or kind
            else "What is real: Tesla AI Day hardware",
            "api_twin": "/api/v1/capabilities"
            + feeds.api_query(status=status, kind=kind, as_of=_iso(then.as_of)),
            **_dated_context(then, snapshot.current(session)),
        }

    block = "capability_table" if is_fragment_request(request, "capability-table") else None
    return await page(request, "overview.html", build, block=block)


# ---- Method --------------------------------------------------------------------------------


@router.get("/method")
async def method_page(request: Request):
    """How to read the status ladder, the verdict rules and the casebook: one stable URL."""

    def build(session: Session) -> dict[str, Any]:
        return {
            "levels": load_levels(),
            "verdict_rules": load_rules().raw,
            "worked_examples": casebook.worked_examples(),
            "page_title": "How to read the status ladder and the claim verdicts",
            "api_twin": "/api/v1/verdict-rules",
        }

    return await page(request, "method.html", build)


# ---- Capability page ----------------------------------------------------------------------


@router.get("/capabilities/{slug}")
async def capability_page(
    request: Request,
    slug: str,
    claims_page: Annotated[str | None, Query(max_length=10)] = None,
    evidence_page: Annotated[str | None, Query(max_length=10)] = None,
):
    """One capability: its questions and claims in doubt first, status and why, claims, evidence.

    Claims and evidence are listed a page at a time; the chart and the counts cover them all.
    """

    def build(session: Session) -> dict[str, Any]:
        cap = cap_service.get_public(session, slug)
        snap = snapshot.get(session)
        assert cap.id is not None
        found = capability.rows(snap, cap.id)
        claims = capability.page_of(
            "claims_page", claims_page, found.claims, lambda c: claims_service.to_public(c, snap)
        )
        evidence = capability.page_of(
            "evidence_page",
            evidence_page,
            found.evidence,
            lambda e: evidence_service.to_public(e, snap),
        )
        # The ledger's own checks have a page of their own; this one lists the first few.
        checks = [evidence_service.to_public(e, snap) for e in found.checks[:CAPABILITY_PAGE_ROWS]]
        in_doubt, doubt_count = doubts.claims_in_doubt(
            snap, found.claims, found.evidence, CAPABILITY_PAGE_ROWS
        )
        history = [
            row
            for row in queries.history(session, cap.id)
            if snap.as_of is None or row.effective_on <= snap.as_of
        ]
        simulated = queries.simulated_by_claim(session)
        # Simulations bear on claims of the capability whatever page lists them.
        simulated_claims = [
            claims_service.to_public(c, snap) for c in found.claims if c.slug in simulated
        ]
        claim_marks, evidence_marks = capability.chart_marks(snap, found)
        return {
            **_dated_context(snap, snapshot.current(session)),
            "questions": questions_service.list_public(session, capability=slug),
            "cap": cap,
            "ancestors": cap_service.lineage(session, slug),
            "children": [cap_service.get_public(session, child) for child in cap.children],
            "limited_by": (
                cap_service.get_public(session, cap.assessment.limited_by)
                if cap.assessment.limited_by
                else None
            ),
            "claims": claims.rows,
            "claims_pages": claims,
            "claim_texts": {c.slug: c.text for c in snap.claims},
            "claims_in_doubt": in_doubt,
            "doubt_count": doubt_count,
            "events": {e.slug: e for e in snap.events},
            "evidence": evidence.rows,
            "evidence_pages": evidence,
            "checks": checks,
            "check_count": len(found.checks),
            "history": history,
            "history_precision": {
                row.id: snap.change_precision(row.effective_on, row.evidence_ids) for row in history
            },
            "evidence_titles": evidence_service.titles(
                session, [i for row in history for i in row.evidence_ids]
            ),
            "simulated": simulated,
            "sources": sources_service.by_keys(
                session,
                [c.source_key for c in claims.rows]
                + [e.source_key for e in [*evidence.rows, *checks]],
            ),
            "timeline_chart": charts.capability_timeline(
                cap, claim_marks, evidence_marks, list(reversed(history)), snap.day
            ),
            "sim_chart": charts.claimed_vs_simulated(simulated_claims, simulated),
            "assumed_inputs": charts.assumed_inputs(simulated_claims, simulated),
            "scenarios": _scenarios_for(slug, found.claims),
            "api_twin": f"/api/v1/capabilities/{slug}" + feeds.api_query(as_of=_iso(snap.as_of)),
        }

    return await page(request, "capability.html", build)


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _dated_context(then: snapshot.Snapshot, now: snapshot.Snapshot) -> dict[str, Any]:
    """What a page needs to show the ledger as of a day beside today: the control, the
    presets, and today's assessment of each capability."""
    return {
        "as_of": then.as_of,
        "today": now.day,
        "presets": asof.presets(now.events, now.day),
        "now": {
            now.capability_slug[cap_id]: assessment
            for cap_id, assessment in now.assessments.items()
        }
        if then.as_of
        else {},
    }


def _scenarios_for(slug: str, claims: list) -> list[dict]:
    claim_slugs = {c.slug for c in claims}
    found = []
    for scenario in benchmarks_service.scenarios():
        caps = set(scenario.get("capabilities") or scenario.get("capability_slugs") or [])
        claimed = set(scenario.get("claims") or scenario.get("claim_slugs") or [])
        if slug in caps or claimed & claim_slugs:
            found.append(scenario)
    return found


# ---- Claims -------------------------------------------------------------------------------


@router.get("/claims")
async def claims_page(
    request: Request,
    q: Annotated[str | None, Query(max_length=200)] = None,
    event: Annotated[str | None, Query(max_length=120)] = None,
    capability: Annotated[str | None, Query(max_length=120)] = None,
    grade: Annotated[str | None, Query(max_length=2)] = None,
    overdue: Annotated[str | None, Query(max_length=5)] = None,
    contradicted: Annotated[str | None, Query(max_length=5)] = None,
    verdict: Annotated[str | None, Query(max_length=20)] = None,
    sort: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
):
    """Search and filter every claim; each row links to its claim page."""

    def build(session: Session) -> dict[str, Any]:
        snap = snapshot.get(session)
        filters: dict[str, Any] = {
            "q": (q or "").strip() or None,
            "event": check_filter("event", event, snap.event_slug.values()),
            "capability": check_filter("capability", capability, snap.capability_slug.values()),
            "grade": check_filter("grade", grade, [g.value for g in Grade]),
            "overdue": _flag("overdue", overdue),
            "contradicted": _flag("contradicted", contradicted),
            "verdict": check_filter("verdict", verdict, verdict_codes()),
        }
        # A search ranks its matches, best first, unless the reader sorts otherwise.
        chosen_sort = check_filter("sort", sort, CLAIM_SORTS) or (
            "relevance" if filters["q"] else "stated_on"
        )
        items, next_cursor = claims_service.list_page(
            session, **filters, sort=chosen_sort, limit=PAGE_SIZE, cursor=cursor or None
        )
        matching = claims_service.count_matching(session, **filters)
        events, _ = events_service.list_page(
            session, kind=None, q=None, sort="date", limit=200, cursor=None
        )
        api_params = {k: ("true" if v is True else v) for k, v in filters.items()}
        event_names = {e.slug: e.name for e in events}
        cap_names = {c.slug: c.name for c in snap.capabilities}
        return {
            "claims": items,
            "matching": matching,
            "total": claims_service.count_all(session),
            "next_cursor": next_cursor,
            "cursor": cursor,
            "filters": filters,
            "sort": chosen_sort,
            "sorts": CLAIM_SORTS,
            "events": events,
            "event_names": event_names,
            "capabilities": [c for c, _ in queries.capabilities_with_depth(session)],
            "cap_names": cap_names,
            "page_title": _claims_title(filters, event_names, cap_names),
            "api_twin": "/api/v1/claims" + feeds.api_query(**api_params, sort=chosen_sort),
        }

    block = "results" if is_fragment_request(request, "claim-results") else None
    return await page(request, "claims.html", build, block=block)


def _claims_title(filters: dict[str, Any], events: dict[str, str], caps: dict[str, str]) -> str:
    """Name what the claims list shows, so the title follows the filter."""
    parts = [
        "overdue" if filters["overdue"] else "",
        "contradicted" if filters["contradicted"] else "",
        VERDICT_LABELS[filters["verdict"]].lower() if filters["verdict"] else "",
        f"grade {filters['grade']}" if filters["grade"] else "",
        f"about {caps.get(filters['capability'], '')}" if filters["capability"] else "",
        f"at {events.get(filters['event'], '')}" if filters["event"] else "",
        f"matching “{filters['q']}”" if filters["q"] else "",
    ]
    shown = [part for part in parts if part]
    return "Claims" + (": " + ", ".join(shown) if shown else "")


@router.get("/claims/{slug}")
async def claim_page(request: Request, slug: str):
    """One claim with its figure, sources, evidence and ClaimReview JSON-LD."""

    def build(session: Session) -> dict[str, Any]:
        claim = claims_service.get_public(session, slug)
        row = claims_service.get_by_slug(session, slug)
        snap = snapshot.get(session)
        cap = cap_service.get_public(session, claim.capability)
        everything = [
            evidence_service.to_public(e, snap)
            for e in claims_service.evidence_for(session, row)
            if snap.as_of is None or evidence_known(e, snap.as_of)
        ]
        # The evidence table is about the world; the ledger's own computations get their own.
        evidence = [e for e in everything if not is_check(e)]
        event = next((e for e in snap.events if e.slug == claim.event), None)
        return {
            "claim": claim,
            "cap": cap,
            "event": event,
            "evidence": evidence,
            "checks": [e for e in everything if is_check(e)],
            # Claims are named by what they say; the slug stays in the link.
            "restates": snap.claims_by_id.get(row.restates_id) if row.restates_id else None,
            "restated_by": [snap.claims_by_id[i] for i in snap.restated_by.get(row.id or 0, [])],
            "simulated": queries.simulated_by_claim(session).get(slug),
            "sources": sources_service.by_keys(
                session, [claim.source_key] + [e.source_key for e in everything]
            ),
            "claim_review": feeds.claim_review(request, claim, cap, evidence, event),
            "api_twin": f"/api/v1/claims/{slug}",
        }

    return await page(request, "claim.html", build)


# ---- Evidence -----------------------------------------------------------------------------


@router.get("/evidence")
async def evidence_page(
    request: Request,
    capability: Annotated[str | None, Query(max_length=120)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    origin: Annotated[str | None, Query(max_length=40)] = None,
    stance: Annotated[str | None, Query(max_length=20)] = None,
    checks: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
):
    """Evidence about the world, newest first, with its grade, origin and stance.

    The ledger's own checks (arithmetic, simulations) have their own page; `checks=include`
    lists them here too.
    """

    def build(session: Session) -> dict[str, Any]:
        snap = snapshot.get(session)
        filters: dict[str, Any] = {
            "capability": check_filter("capability", capability, snap.capability_slug.values()),
            "kind": check_filter("kind", kind, [k.value for k in EvidenceKind]),
            "origin": check_filter("origin", origin, [p.value for p in Origin]),
            "stance": check_filter("stance", stance, [s.value for s in Stance]),
            "checks": _checks_filter(checks, kind, origin),
        }
        items, next_cursor = evidence_service.list_page(
            session, **filters, sort="-date", limit=50, cursor=cursor or None
        )
        matching = evidence_service.count_matching(session, **filters)
        cap_names = {c.slug: c.name for c in snap.capabilities}
        shown = [
            f"about {cap_names.get(filters['capability'] or '', '')}"
            if filters["capability"]
            else "",
            humanize(filters["kind"]) if filters["kind"] else "",
            humanize(filters["origin"]) if filters["origin"] else "",
            humanize(filters["stance"]) if filters["stance"] else "",
            "with checks" if filters["checks"] == "include" else "",
        ]
        return {
            "items": items,
            "matching": matching,
            "total": evidence_service.count_matching(session),
            "next_cursor": next_cursor,
            "cursor": cursor,
            "filters": filters,
            "kinds": [k.value for k in EvidenceKind],
            "origins": [p.value for p in Origin],
            "capabilities": [c for c, _ in queries.capabilities_with_depth(session)],
            "cap_names": cap_names,
            "claim_texts": {c.slug: c.text for c in snap.claims},
            "sources": sources_service.by_keys(session, [e.source_key for e in items]),
            "page_title": "Evidence"
            + (": " + ", ".join(p for p in shown if p) if any(shown) else ""),
            "api_twin": "/api/v1/evidence" + feeds.api_query(**filters, sort="-date"),
        }

    block = "results" if is_fragment_request(request, "evidence-results") else None
    return await page(request, "evidence.html", build, block=block)


def _checks_filter(value: str | None, kind: str | None, origin: str | None) -> ChecksFilter:
    """Evidence lists leave the ledger's own checks out unless asked (or a check kind is)."""
    for choice in CHECKS_FILTERS:
        if value == choice:
            return choice
    check_filter("checks", value, CHECKS_FILTERS)  # an unknown value is refused with the choices
    return "include" if kind in COMPUTED_KINDS or origin == "computed" else "exclude"


@router.get("/checks")
async def checks_page(
    request: Request,
    capability: Annotated[str | None, Query(max_length=120)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
):
    """The ledger's own checks: arithmetic on the claimed figures and simulation runs.

    What each says about its claim (consistent with the other claimed figures, contradicts,
    inconclusive under an assumption), then what the latest simulations predict beside the
    claims (findings) and which claimed figures they take as inputs (assumed).
    """

    def build(session: Session) -> dict[str, Any]:
        snap = snapshot.get(session)
        chosen = capability if capability in snap.capability_slug.values() else None
        items, next_cursor = evidence_service.list_page(
            session, capability=chosen, checks="only", sort="-date", limit=50, cursor=cursor or None
        )
        claims = [
            c
            for c in snap.claims
            if chosen is None or snap.capability_slug.get(c.capability_id) == chosen
        ]
        simulated = queries.simulated_by_claim(session)
        texts = {c.slug: c.text for c in claims}
        findings = [
            {**result, "label": texts[slug]}
            for slug, results in simulated.items()
            if slug in texts
            for result in results
            if result["kind"] == "finding"
        ]
        assumed = [
            {**result, "label": texts[slug]}
            for slug, results in simulated.items()
            if slug in texts
            for result in results
            if result["kind"] == "assumed"
        ]
        cap_names = {c.slug: c.name for c in snap.capabilities}
        return {
            "items": items,
            "next_cursor": next_cursor,
            "cursor": cursor,
            "filters": {"capability": chosen},
            "findings": findings,
            "assumed": assumed,
            "capabilities": [c for c, _ in queries.capabilities_with_depth(session)],
            "cap_names": cap_names,
            "claim_texts": {c.slug: c.text for c in snap.claims},
            "sources": sources_service.by_keys(session, [e.source_key for e in items]),
            "page_title": "Checks" + (f": about {cap_names[chosen]}" if chosen else ""),
            "api_twin": "/api/v1/evidence"
            + feeds.api_query(capability=chosen, checks="only", sort="-date"),
        }

    block = "results" if is_fragment_request(request, "check-results") else None
    return await page(request, "checks.html", build, block=block)


# ---- Timeline -----------------------------------------------------------------------------


@router.get("/timeline")
async def timeline_page(
    request: Request,
    capability: Annotated[str | None, Query(max_length=120)] = None,
    checks: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
):
    """What was announced when, and when it was built, tested, abandoned; newest first.

    The ledger's own checks are left out unless `checks=include` asks for them.
    """
    block = "entries" if is_fragment_request(request, "timeline-entries") else None

    def build(session: Session) -> dict[str, Any]:
        # An htmx "Older" swap replaces only the list: the chart is not built for it.
        return timeline.page_context(
            session,
            capability=capability or None,
            cursor=cursor or None,
            chart=block is None,
            with_checks=check_filter("checks", checks, ("exclude", "include")) == "include",
        )

    return await page(request, "timeline.html", build, block=block)


# ---- Favicon ------------------------------------------------------------------------------

FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#11161d"/>'
    '<rect x="3" y="10" width="2" height="3" fill="#7c3aed"/>'
    '<rect x="6" y="7" width="2" height="6" fill="#2563eb"/>'
    '<rect x="9" y="5" width="2" height="8" fill="#0f766e"/>'
    '<rect x="12" y="3" width="2" height="10" fill="#fbbf24"/></svg>'
)


@router.get("/favicon.svg")
@router.get("/favicon.ico")
def favicon() -> Response:
    """Serve the site icon."""
    return Response(
        FAVICON_SVG, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )
