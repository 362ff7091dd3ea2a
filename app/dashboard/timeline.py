"""The timeline page: claims, evidence, status changes and outcomes, newest first.

Everything is read from the snapshot's rows. Once per data version their dates are read into
an index of plain integers; a page then slices that index and builds display entries only for
what it shows, so its cost hardly grows with the ledger. The chart draws a bounded number of
rows, folding hierarchies into one row each when there are many capabilities.
"""

import base64
import bisect
import datetime as dt
import heapq
import json
import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.capabilities import service as cap_service
from app.capabilities.models import Capability
from app.core.errors import InvalidFilter
from app.core.http import DB_ID_MAX, invalid_cursor
from app.core.limits import InputError, parse_json
from app.dashboard import charts
from app.events.models import Event
from app.evidence.checks import CHECK_COLUMNS, is_check_row
from app.history.models import StatusChange
from app.status import snapshot

PAGE_SIZE = 200
# A tall chart box holds about this many rows before their labels collide.
CHART_ROWS = 20
# Same-day entries read claims, evidence, status changes, outcomes (the order before paging).
CLAIMS, EVIDENCE, STATUS, OUTCOME = range(4)
_CURSOR_SORT = "timeline"
# An item that neither supports nor contradicts is said to be what it is, never "contradicts".
STANCE_ENTRY = {
    "supports": "evidence",
    "contradicts": "contradicts",
    "inconclusive": "inconclusive",
    "not_found": "not_found",
}


class Change(NamedTuple):
    """The columns of a status change the timeline shows."""

    id: int
    capability_id: int
    from_status: str
    to_status: str
    effective_on: dt.date


def changes(session: Session) -> list[Change]:
    """Return every status change, oldest first, as plain tuples (no ORM objects)."""
    # Five columns: beyond sqlmodel's typed select, so SQLAlchemy's select and execute.
    statement = sa_select(
        col(StatusChange.id),
        col(StatusChange.capability_id),
        col(StatusChange.from_status),
        col(StatusChange.to_status),
        col(StatusChange.effective_on),
    ).order_by(col(StatusChange.id))
    return [Change(*row) for row in session.execute(statement).all()]


# ---- Keys ---------------------------------------------------------------------------------
# An entry's place is one integer: newest day first, then kind, then the row it comes from
# (and, for a hierarchy's claim counts, the capability). Integers sort fast, and the garbage
# collector never scans them: a per-version index of them costs no pause on a large ledger.

_ID_BITS = 31  # ids are 32-bit signed integers on PostgreSQL
_ID_MASK = (1 << _ID_BITS) - 1
_LAST_DAY = dt.date.max.toordinal()


def pack(day: int, rank: int, first: int, second: int = 0) -> int:
    """Return the sort key of an entry dated `day` (an ordinal) of kind `rank`."""
    return (((_LAST_DAY - day) * 4 + rank) << (2 * _ID_BITS)) | (first << _ID_BITS) | second


def unpack(key: int) -> tuple[int, int, int, int]:
    """Return (day ordinal, rank, first id, second id) of a sort key."""
    head = key >> (2 * _ID_BITS)
    return _LAST_DAY - (head >> 2), head & 3, (key >> _ID_BITS) & _ID_MASK, key & _ID_MASK


def encode_cursor(key: int) -> str:
    """Return the opaque cursor of the page after the entry at `key`."""
    day, rank, first, second = unpack(key)
    value = [dt.date.fromordinal(day).isoformat(), rank, first, second]
    raw = json.dumps({"s": _CURSOR_SORT, "v": value}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _small_int(value: Any, top: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise ValueError("cursor position is out of range")
    return value


def decode_cursor(cursor: str) -> int:
    """Return the key a cursor names, or raise a 400 problem for a malformed one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = parse_json(base64.urlsafe_b64decode(padded.encode()), max_depth=2)
        if not isinstance(data, dict) or data.get("s") != _CURSOR_SORT:
            raise ValueError("cursor belongs to another list")
        value = data["v"]
        if not isinstance(value, list) or len(value) != 4 or not isinstance(value[0], str):
            raise ValueError("cursor position is malformed")
        day = dt.date.fromisoformat(value[0]).toordinal()
        rank = _small_int(value[1], OUTCOME)
        return pack(day, rank, _small_int(value[2], DB_ID_MAX), _small_int(value[3], DB_ID_MAX))
    except (InputError, ValueError, KeyError, TypeError) as exc:
        raise invalid_cursor(str(exc) or type(exc).__name__) from exc


# ---- The index ----------------------------------------------------------------------------


@dataclass
class Index:
    """The snapshot's dated rows as parallel lists of integers, built once per data version.

    Reading an ORM attribute costs far more than a list item, and every row's date is needed
    to sort; so that is done once, and a page only slices, filters and looks up.
    """

    snap: "weakref.ReferenceType[snapshot.Snapshot]"
    version: int
    order: list[tuple[Capability, int]]  # capabilities in hierarchy order, with their depth
    cap_by_id: dict[int, Capability]
    events: dict[int, Event]
    # Claims, in the snapshot's order: capability, date stated, event.
    claim_cap: list[int]
    claim_date: list[dt.date]
    claim_precision: list[str]
    claim_event: list[int]
    # Evidence, in the snapshot's order: capability, day, sort key; and each id's position.
    evidence_at: dict[int, int]
    evidence_cap: list[int]
    evidence_key: list[int]
    evidence_check: list[bool]  # the ledger's own computations, left out unless asked for
    # What the chart draws of each item: its date, precision, title, stance, and the level it
    # counts toward (None when it counts toward none, such as a simulation).
    evidence_date: list[dt.date]
    evidence_precision: list[str]
    evidence_title: list[str]
    evidence_stance: list[str]
    evidence_counted: list[str | None]
    changes: dict[int, Change]  # by id, oldest first
    per_event: dict[int, int]  # claims recorded per event
    whole: list[int]  # the whole ledger's list without checks, sorted
    whole_with_checks: list[int]
    latest: dict[int, dt.date]  # each capability's latest dated item
    repeated_titles: set[str]  # evidence titles used more than once


_index_lock = threading.Lock()
_index: Index | None = None


def index(session: Session, snap: snapshot.Snapshot) -> Index:
    """Return the index of this snapshot, building it on the first timeline read after a write."""
    global _index
    cached = _index
    if cached is None or cached.snap() is not snap or cached.version != snap.version:
        with _index_lock:
            cached = _index
            if cached is None or cached.snap() is not snap or cached.version != snap.version:
                # Status changes are written with a data-version bump, like every snapshot row.
                # A view as of a past day shows the changes effective by then.
                found = [
                    change
                    for change in changes(session)
                    if snap.as_of is None or change.effective_on <= snap.as_of
                ]
                cached = _build_index(snap, found)
                _index = cached
    return cached


def _columns(rows: Sequence[Any], *names: str) -> list[list[Any]]:
    """Return one list per column of the rows.

    The snapshot's rows are detached and fully loaded, so their values sit in `__dict__`;
    reading them there skips the ORM attribute's Python-level `__get__`, which is half the
    cost of an index build on a large ledger. An attribute missing there is read normally.
    """
    out: list[list[Any]] = []
    for name in names:
        column = []
        for row in rows:
            values = row.__dict__
            column.append(values[name] if name in values else getattr(row, name))
        out.append(column)
    return out


def _build_index(snap: snapshot.Snapshot, all_changes: list[Change]) -> Index:
    latest: dict[int, dt.date] = {}

    def seen(cap_id: int, day: dt.date) -> None:
        if cap_id not in latest or latest[cap_id] < day:
            latest[cap_id] = day

    claim_cap, claim_date, claim_precision, claim_event = _columns(
        snap.claims, "capability_id", "stated_on", "date_precision", "event_id"
    )
    for cap_id, day in zip(claim_cap, claim_date, strict=True):
        seen(cap_id, day)
    evidence_id, evidence_cap, evidence_date, evidence_title = _columns(
        snap.evidence, "id", "capability_id", "date", "title"
    )
    evidence_key = [
        pack(d.toordinal(), EVIDENCE, i) for d, i in zip(evidence_date, evidence_id, strict=True)
    ]
    check_columns = _columns(snap.evidence, *CHECK_COLUMNS)
    precision, stance, level, origin, kind, grade = _columns(
        snap.evidence, "date_precision", "stance", "level", "origin", "kind", "grade"
    )
    # Only support that counts has a level to colour by (a simulation has none).
    meets = snap.ladder.meets
    counted = [
        lv if meets(*row) else None
        for lv, row in zip(level, zip(stance, level, origin, kind, grade, strict=True), strict=True)
    ]
    evidence_check = [is_check_row(*values) for values in zip(*check_columns, strict=True)]
    for cap_id, day in zip(evidence_cap, evidence_date, strict=True):
        seen(cap_id, day)
    titles = Counter(evidence_title)
    keys = [key for key, check in zip(evidence_key, evidence_check, strict=True) if not check]
    for change in all_changes:
        keys.append(pack(change.effective_on.toordinal(), STATUS, change.id))
        seen(change.capability_id, change.effective_on)
    for cap in snap.capabilities:
        if cap.outcome != "active" and cap.outcome_date and cap.id is not None:
            keys.append(pack(cap.outcome_date.toordinal(), OUTCOME, cap.id))
            seen(cap.id, cap.outcome_date)
    events = {event.id: event for event in snap.events if event.id is not None}
    per_event = Counter(claim_event)
    keys.extend(
        pack(events[event_id].date.toordinal(), CLAIMS, event_id)
        for event_id in per_event
        if event_id in events
    )
    keys.sort()
    checks = sorted(key for key, check in zip(evidence_key, evidence_check, strict=True) if check)
    return Index(
        snap=weakref.ref(snap),
        version=snap.version,
        order=cap_service.hierarchy_order(snap),
        cap_by_id={cap.id: cap for cap in snap.capabilities if cap.id is not None},
        events=events,
        claim_cap=claim_cap,
        claim_date=claim_date,
        claim_precision=claim_precision,
        claim_event=claim_event,
        evidence_at={evidence_id: i for i, evidence_id in enumerate(evidence_id)},
        evidence_cap=evidence_cap,
        evidence_key=evidence_key,
        evidence_check=evidence_check,
        evidence_date=evidence_date,
        evidence_precision=precision,
        evidence_title=evidence_title,
        evidence_stance=stance,
        evidence_counted=counted,
        changes={change.id: change for change in all_changes},
        per_event=dict(per_event),
        whole=keys,
        whole_with_checks=list(heapq.merge(keys, checks)) if checks else keys,
        latest=latest,
        repeated_titles={title for title, n in titles.items() if n > 1},
    )


# ---- Scope --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The capabilities a timeline covers: every one, or one and the parts below it."""

    top: Capability | None
    # Capabilities in hierarchy order with their depth (relative to `top` when given).
    members: list[tuple[Capability, int]]

    @property
    def ids(self) -> set[int]:
        """Return the ids of the capabilities covered."""
        return {cap.id for cap, _ in self.members if cap.id is not None}


def scope_of(order: list[tuple[Capability, int]], slug: str | None) -> Scope:
    """Return the scope of a timeline: the whole ledger, or the hierarchy under `slug`.

    An unknown slug is refused (400 on the page), listing the capabilities that exist.
    """
    if slug is not None:
        for position, (cap, depth) in enumerate(order):
            if cap.slug == slug:
                members = [(cap, 0)]
                for other, other_depth in order[position + 1 :]:
                    if other_depth <= depth:
                        break
                    members.append((other, other_depth - depth))
                return Scope(cap, members)
        raise InvalidFilter("capability", slug, [cap.slug for cap, _depth in order])
    return Scope(None, order)


# ---- The list -----------------------------------------------------------------------------


def listing(
    idx: Index, scope: Scope, with_checks: bool = False
) -> tuple[list[int], dict[tuple[int, int], int]]:
    """Return the sorted keys of every entry in scope, and the claim counts they refer to.

    On the whole ledger claims are counted per event; on one hierarchy per event and
    capability, so each count can link to the claims it counts. The ledger's own checks are
    left out unless `with_checks`.
    """
    if scope.top is None:
        whole = idx.whole_with_checks if with_checks else idx.whole
        return whole, {(event_id, 0): n for event_id, n in idx.per_event.items()}
    ids = scope.ids
    counts: Counter[tuple[int, int]] = Counter(
        (event_id, cap_id)
        for cap_id, event_id in zip(idx.claim_cap, idx.claim_event, strict=True)
        if cap_id in ids
    )
    keys = [
        key
        for cap, key, check in zip(
            idx.evidence_cap, idx.evidence_key, idx.evidence_check, strict=True
        )
        if cap in ids and (with_checks or not check)
    ]
    keys += [
        pack(change.effective_on.toordinal(), STATUS, change.id)
        for change in idx.changes.values()
        if change.capability_id in ids
    ]
    keys += [
        pack(cap.outcome_date.toordinal(), OUTCOME, cap.id)
        for cap, _ in scope.members
        if cap.outcome != "active" and cap.outcome_date and cap.id is not None
    ]
    keys += [
        pack(idx.events[event_id].date.toordinal(), CLAIMS, event_id, cap_id)
        for event_id, cap_id in counts
        if event_id in idx.events
    ]
    keys.sort()
    return keys, dict(counts)


def _about(text: str) -> str:
    return f" (on “{text[:70]}{'…' if len(text) > 70 else ''}”)"


def _claim_text(snap: snapshot.Snapshot, claim_id: int | None) -> str:
    if claim_id is None:
        return ""
    # The snapshot lists claims in id order: a binary search reads a handful of rows.
    position = bisect.bisect_left(snap.claims, claim_id, key=lambda c: c.id or 0)
    if position < len(snap.claims) and snap.claims[position].id == claim_id:
        return snap.claims[position].text
    return next((c.text for c in snap.claims if c.id == claim_id), "")


def _change_precisions(
    session: Session, snap: snapshot.Snapshot, idx: Index, keys: Sequence[int]
) -> dict[int, str]:
    """Return how precisely each shown status change's day is known, by change id."""
    ids = []
    for key in keys:
        _day, rank, first, _second = unpack(key)
        if rank == STATUS:
            ids.append(idx.changes[first].id)
    if not ids:
        return {}
    rows = session.execute(
        sa_select(
            col(StatusChange.id), col(StatusChange.effective_on), col(StatusChange.evidence_ids)
        ).where(col(StatusChange.id).in_(ids))
    ).all()
    return {row[0]: snap.change_precision(row[1], row[2] or []) for row in rows}


def _entries(
    snap: snapshot.Snapshot,
    idx: Index,
    keys: Iterable[int],
    counts: dict[tuple[int, int], int],
    precisions: Mapping[int, str] | None = None,
) -> list[dict[str, Any]]:
    """Build the display entries of one page (same wording as the chart's tooltips)."""
    entries: list[dict[str, Any]] = []
    for key in keys:
        _day, rank, first, second = unpack(key)
        if rank == CLAIMS:
            event, cap = idx.events[first], idx.cap_by_id.get(second)
            count = counts[(first, second)]
            href = f"/claims?event={event.slug}"
            text = f"{event.name}: {count} claim(s) recorded"
            if cap is not None:
                href += f"&capability={cap.slug}"
                text = f"{event.name}: {count} claim(s) about {cap.name}"
            entries.append(
                {
                    "date": event.date,
                    "precision": event.date_precision,
                    "what": "claims",
                    "text": text,
                    "href": href,
                    "level": None,
                    "cap": None,
                }
            )
        elif rank == EVIDENCE:
            item = snap.evidence[idx.evidence_at[first]]
            cap = idx.cap_by_id.get(item.capability_id)
            text = item.title
            # One run's items share a title: say what each is about.
            if text in idx.repeated_titles:
                text += _about(_claim_text(snap, item.claim_id) or (cap.name if cap else ""))
            entries.append(
                {
                    "date": item.date,
                    "precision": item.date_precision,
                    "what": STANCE_ENTRY.get(item.stance, "evidence"),
                    "text": text,
                    "href": f"/capabilities/{cap.slug if cap else '?'}#evidence",
                    "level": item.level,
                    "cap": cap.name if cap else None,
                }
            )
        elif rank == STATUS:
            change = idx.changes[first]
            cap = idx.cap_by_id.get(change.capability_id)
            entries.append(
                {
                    "date": change.effective_on,
                    "precision": (precisions or {}).get(change.id, "day"),
                    "what": "status",
                    "text": f"{change.from_status} → {change.to_status}",
                    "from": change.from_status,
                    "href": f"/capabilities/{cap.slug if cap else '?'}#history",
                    "level": change.to_status,
                    "cap": cap.name if cap else None,
                }
            )
        else:
            cap = idx.cap_by_id[first]
            entries.append(
                {
                    "date": cap.outcome_date,
                    "precision": "day",
                    "what": "outcome",
                    "text": f"{cap.name}: {cap.outcome}",
                    "href": f"/capabilities/{cap.slug}",
                    "level": None,
                    "cap": cap.name,
                }
            )
    return entries


# ---- The chart ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartRows:
    """The rows the chart draws and which capabilities each one holds."""

    labels: list[str]
    row_of: dict[int, int]
    folded: bool  # each row holds a capability and the parts below it
    shown: int  # rows drawn
    total: int  # of how many (hierarchies when folded)


def chart_rows(idx: Index, scope: Scope) -> ChartRows:
    """Choose the chart's rows: one per capability when they fit, else folded hierarchies.

    Folded, each top-level capability of the scope (the roots, or the chosen capability's
    children) is one row holding the parts below it; when even those do not fit, the ones
    with the latest activity are drawn, still in hierarchy order.
    """
    members = scope.members
    if len(members) <= CHART_ROWS:
        labels = [cap.name for cap, _ in members]
        row_of = {cap.id: i for i, (cap, _) in enumerate(members) if cap.id is not None}
        return ChartRows(labels, row_of, False, len(members), len(members))
    # The chosen capability alone, then each child with its descendants; or each root with its.
    top_depth = 0 if scope.top is None else 1
    groups: list[list[Capability]] = []
    for cap, depth in members:
        if not groups or depth <= top_depth:
            groups.append([cap])
        else:
            groups[-1].append(cap)
    total = len(groups)
    if total > CHART_ROWS:
        never = dt.date.min

        def recency(position: int) -> tuple[dt.date, int]:
            days = [idx.latest.get(cap.id or 0, never) for cap in groups[position]]
            return max(days), -position

        ranked = sorted(range(total), key=recency, reverse=True)
        groups = [groups[position] for position in sorted(ranked[:CHART_ROWS])]
    labels, row_of = [], {}
    for row, group in enumerate(groups):
        parts = len(group) - 1
        labels.append(group[0].name + (f" (+{parts})" if parts else ""))
        for cap in group:
            if cap.id is not None:
                row_of[cap.id] = row
    return ChartRows(labels, row_of, True, len(groups), total)


def _chart_label(scope: Scope, rows: ChartRows) -> str:
    """Say what the chart draws, for its accessible name."""
    if scope.top is not None:
        covers = scope.top.name + (" and the parts below it" if len(scope.members) > 1 else "")
    elif not rows.folded:
        covers = "every capability"
    elif rows.shown < rows.total:
        covers = (
            f"the {rows.shown} hierarchies with the latest activity, of {rows.total:,}, "
            "each with its parts folded in"
        )
    else:
        covers = "every hierarchy, each with its parts folded in"
    return f"Claims, evidence, status changes and outcomes for {covers}, 2019 to today"


def _chart(
    snap: snapshot.Snapshot, idx: Index, scope: Scope, rows: ChartRows, with_checks: bool = False
) -> dict[str, Any]:
    """Return the chart's data, reading only the rows of the capabilities it draws."""
    row_of = rows.row_of

    def claims() -> Iterator[tuple[int, dt.date, str, int]]:
        for cap_id, stated, precision, event_id in zip(
            idx.claim_cap, idx.claim_date, idx.claim_precision, idx.claim_event, strict=True
        ):
            if cap_id in row_of:
                yield cap_id, stated, precision, event_id

    def evidence() -> Iterator[tuple[int, dt.date, str, str, str | None, str]]:
        for found in zip(
            idx.evidence_cap,
            idx.evidence_date,
            idx.evidence_precision,
            idx.evidence_title,
            idx.evidence_counted,
            idx.evidence_stance,
            idx.evidence_check,
            strict=True,
        ):
            if found[0] in row_of and (with_checks or not found[-1]):
                yield found[:-1]

    return charts.global_timeline(
        rows.labels,
        row_of,
        claims(),
        evidence(),
        (
            (c.capability_id, c.from_status, c.to_status, c.effective_on)
            for c in idx.changes.values()
        ),
        (cap for cap, _ in scope.members),
        {event_id: event.name for event_id, event in idx.events.items()},
        snap.day,
    )


# ---- The page -----------------------------------------------------------------------------


def page_context(
    session: Session,
    *,
    capability: str | None,
    cursor: str | None,
    chart: bool = True,
    with_checks: bool = False,
) -> dict[str, Any]:
    """Return what timeline.html shows: one page of the list and, unless asked not to, the chart."""
    position = decode_cursor(cursor) if cursor else None
    snap = snapshot.get(session)
    idx = index(session, snap)
    scope = scope_of(idx.order, capability)
    keys, counts = listing(idx, scope, with_checks)
    start = bisect.bisect_right(keys, position) if position is not None else 0
    shown = keys[start : start + PAGE_SIZE]
    more = start + PAGE_SIZE < len(keys)
    context: dict[str, Any] = {
        "entries": _entries(
            snap, idx, shown, counts, _change_precisions(session, snap, idx, shown)
        ),
        "cursor": cursor,
        "next_cursor": encode_cursor(shown[-1]) if more and shown else None,
        "first_shown": start + 1,
        "total": len(keys),
        "scope": scope.top,
        "scope_size": len(scope.members),
        "with_checks": with_checks,
        "api_twin": "/api/v1/changes",
    }
    if scope.top is not None:
        context["page_title"] = f"Timeline: {scope.top.name}"
    if chart:
        rows = chart_rows(idx, scope)
        context["rows"] = rows
        context["chart_label"] = _chart_label(scope, rows)
        context["timeline_chart"] = _chart(snap, idx, scope, rows, with_checks)
        if rows.folded or scope.top is not None:
            context["choices"] = idx.order
    return context
