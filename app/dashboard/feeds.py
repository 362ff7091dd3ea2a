"""Machine-readable twins of the pages: Atom feed, CSV exports, ClaimReview JSON-LD."""

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from app.capabilities.models import CapabilityPublic
from app.claims import service as claims_service
from app.claims.models import ClaimPublic, Verdict
from app.core.config import get_settings
from app.core.db import SessionDep
from app.core.schema import iso_date, shown_date
from app.dashboard import queries
from app.dashboard.templating import LEVEL_LABELS, VERDICT_LABELS
from app.events.models import Event
from app.evidence import service as evidence_service
from app.evidence.models import EvidencePublic
from app.history.models import reason_label
from app.sources import service as sources_service
from app.status import snapshot

router = APIRouter(include_in_schema=False)
FEED_SIZE = 100


def api_query(**params: Any) -> str:
    """Return a query string of the non-empty parameters (for the /api/v1 twin links)."""
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return ("?" + urlencode(kept)) if kept else ""


# The claim's own verdict on a 1-5 scale: documented by the claimant is not confirmed, so not 5;
# an unverified claim (nothing but restatements, reports or forum posts) gets no number.
VERDICT_RATINGS = {
    Verdict.contradicted: 1,
    Verdict.disputed: 2,
    Verdict.unresolved: 3,
    Verdict.documented: 4,
    Verdict.supported: 5,
}
PEOPLE_KINDS = {"executive", "employee"}


def claimant(claim: ClaimPublic) -> dict[str, Any] | None:
    """Return who made the claim, as the claim itself names them; a forum poster is not named."""
    if claim.claimant_kind == "forum":
        return None
    kind = "Person" if claim.claimant_kind in PEOPLE_KINDS else "Organization"
    return {"@type": kind, "name": claim.claimant}


def claim_review(
    request: Request,
    claim: ClaimPublic,
    cap: CapabilityPublic,
    evidence: list[EvidencePublic],
    event: Event | None,
) -> dict[str, Any]:
    """Return the schema.org ClaimReview of a claim, rating the claim's own verdict."""
    base = get_settings().public_base_url
    verdict = VERDICT_LABELS[claim.verdict]
    rating: dict[str, Any] = {"@type": "Rating", "alternateName": verdict}
    if claim.grade == "F" and claim.verdict == Verdict.unverified:
        rating["alternateName"] = "Reported on a forum, unverified"
    elif claim.verdict in VERDICT_RATINGS:
        rating.update(ratingValue=VERDICT_RATINGS[claim.verdict], bestRating=5, worstRating=1)
    if claim.overdue_days:
        rating["alternateName"] += f"; overdue by {claim.overdue_days} days"
    item_reviewed: dict[str, Any] = {
        "@type": "Claim",
        "datePublished": iso_date(claim.stated_on, claim.date_precision),
    }
    author = claimant(claim)
    if author is not None:
        item_reviewed["author"] = author
    if claim.source_url:
        item_reviewed["appearance"] = {"@type": "CreativeWork", "url": claim.source_url}
    if event is not None:
        item_reviewed["firstAppearance"] = {
            "@type": "CreativeWork",
            "name": event.name,
            "datePublished": iso_date(event.date, event.date_precision),
            **({"url": event.url} if event.url else {}),
        }
    return {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": f"{base}/claims/{claim.slug}",
        "claimReviewed": claim.text,
        "datePublished": snapshot.today().isoformat(),
        "author": {"@type": "Organization", "name": "AI Day Ledger", "url": base + "/"},
        "itemReviewed": item_reviewed,
        "reviewRating": rating,
        "citation": [e.url for e in evidence if e.url],
    }


@router.get("/feed.atom")
def atom_feed(request: Request, session: SessionDep) -> Response:
    """Atom feed of the latest status changes, newest first."""
    snap = snapshot.get(session)
    names = {c.id: c.name for c in snap.capabilities}
    base = get_settings().public_base_url
    rows = queries.history(session, limit=FEED_SIZE)
    updated = rows[0].recorded_at if rows else None
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        "<title>AI Day Ledger: status changes</title>",
        f'<link rel="self" href="{escape(base)}/feed.atom"/>',
        f'<link rel="alternate" type="text/html" href="{escape(base)}/timeline"/>',
        f"<id>{escape(base)}/feed.atom</id>",
        f"<updated>{_atom_time(updated)}</updated>",
        "<author><name>AI Day Ledger</name></author>",
    ]
    for row in rows:
        slug = snap.capability_slug.get(row.capability_id, "")
        title = (
            f"{names.get(row.capability_id, slug)}: "
            f"{LEVEL_LABELS.get(row.from_status, row.from_status)} → "
            f"{LEVEL_LABELS.get(row.to_status, row.to_status)}"
        )
        effective = shown_date(
            row.effective_on, snap.change_precision(row.effective_on, row.evidence_ids)
        )
        summary = f"{row.reason} (reason: {reason_label(row.reason_code)}; by {row.actor}; effective {effective})"
        parts += [
            "<entry>",
            f"<title>{escape(title)}</title>",
            f'<link rel="alternate" type="text/html" href="{escape(base)}/capabilities/{escape(slug)}#history"/>',
            f"<id>{escape(base)}/changes/{row.id}</id>",
            f"<updated>{_atom_time(row.recorded_at)}</updated>",
            f'<summary type="text">{escape(summary)}</summary>',
            "</entry>",
        ]
    parts.append("</feed>")
    return Response("\n".join(parts) + "\n", media_type="application/atom+xml; charset=utf-8")


def _atom_time(value: Any) -> str:
    if value is None:
        return "1970-01-01T00:00:00Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(value: Any) -> str:
    """Return a CSV cell; text starting like a formula is prefixed so spreadsheets show it."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_response(header: list[str], rows: Iterator[list[Any]], filename: str) -> Response:
    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        generate(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Dates at the precision known (2021-08 for a month); sources cited by outlet, title and date.
CLAIM_COLUMNS = [
    "slug", "capability", "event", "stated_on", "text", "claimant", "claimant_kind", "metric",
    "value", "unit", "datatype", "scale", "implied_status", "grade", "source", "source_url",
    "video_offset_s", "deadline", "promise", "promise_resolved_on", "days_late", "overdue_days",
    "contradicted", "verdict", "consistency", "restates",
]  # fmt: skip
EVIDENCE_COLUMNS = [
    "id", "slug", "capability", "claim", "date", "title", "summary", "kind", "origin",
    "grade", "stance", "assumption", "level", "counts_toward_status", "source", "url", "archived_url",
    "benchmark_run_id",
]  # fmt: skip


def _every_page(fetch: Callable[[str | None], tuple[list[Any], str | None]]) -> list[Any]:
    """Follow a keyset-paginated list to its end."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page, cursor = fetch(cursor)
        items.extend(page)
        if cursor is None:
            return items


@router.get("/exports/claims.csv")
def claims_csv(session: SessionDep) -> Response:
    """Every claim with its figure and flags, as CSV."""
    claims: list[ClaimPublic] = _every_page(
        lambda cursor: claims_service.list_page(session, sort="id", limit=500, cursor=cursor)
    )

    cited = sources_service.by_keys(session, (c.source_key for c in claims))

    def rows() -> Iterator[list[Any]]:
        for c in claims:
            figure, promise = c.figure, c.promise
            source = cited.get(c.source_key or "")
            yield [
                c.slug, c.capability, c.event, iso_date(c.stated_on, c.date_precision), c.text,
                c.claimant, c.claimant_kind,
                figure.metric if figure else None, figure.value if figure else None,
                figure.unit if figure else None, figure.datatype if figure else None,
                figure.scale if figure else None, c.implied_status, c.grade,
                source.citation if source else None, c.source_url, c.video_offset_s, c.deadline,
                promise.state if promise else None, promise.resolved_on if promise else None,
                promise.days_late if promise else None, c.overdue_days, c.contradicted,
                c.verdict, c.consistency, c.restates,
            ]  # fmt: skip

    return _csv_response(CLAIM_COLUMNS, rows(), "claims.csv")


@router.get("/exports/evidence.csv")
def evidence_csv(session: SessionDep) -> Response:
    """Every evidence item with its origin, grade and stance, as CSV."""
    items: list[EvidencePublic] = _every_page(
        lambda cursor: evidence_service.list_page(session, sort="id", limit=500, cursor=cursor)
    )
    cited = sources_service.by_keys(session, (e.source_key for e in items))

    def rows() -> Iterator[list[Any]]:
        for e in items:
            source = cited.get(e.source_key or "")
            shown = {
                "date": iso_date(e.date, e.date_precision),
                "source": source.citation if source else None,
            }
            yield [shown[name] if name in shown else getattr(e, name) for name in EVIDENCE_COLUMNS]

    return _csv_response(EVIDENCE_COLUMNS, rows(), "evidence.csv")
