"""The read snapshot refreshed after each write equals one loaded from scratch.

Every write is made through the API, as a user would; after each one the cached snapshot is
brought up to date from the data-change log and compared, field by field, with a full load.
"""

import datetime as dt
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.capabilities.models import Capability
from app.claims.models import Claim
from app.core.db import get_engine
from app.evidence.models import Evidence
from app.status import snapshot
from app.status.history import EVERYTHING, bump_data_version
from tests.capabilities.test_capabilities import auth


def _digest(snap: snapshot.Snapshot) -> dict[str, Any]:
    """Return everything a reader can see of a snapshot, in a comparable form."""
    return {
        "capabilities": [(c.id, c.slug, c.parent_id, c.version) for c in snap.capabilities],
        "claims": [(c.id, c.slug, c.capability_id, c.restates_id, c.version) for c in snap.claims],
        "evidence": [(e.id, e.capability_id, e.claim_id, e.version) for e in snap.evidence],
        "events": [(e.id, e.slug, e.name) for e in snap.events],
        "assessments": {k: v.model_dump() for k, v in snap.assessments.items()},
        "verdicts": dict(snap.verdicts),
        "capability_slug": snap.capability_slug,
        "event_slug": snap.event_slug,
        "children": {k: snap.children(k) for k in snap.capability_slug},
        "parent_of": snap.parent_of,
        "child_ids": {k: sorted(v) for k, v in snap.child_ids.items()},
        "top_ids": snap.top_ids,
        "restated_by": {k: sorted(v) for k, v in snap.restated_by.items() if v},
        "evidence_by_claim": {
            k: sorted(e.id for e in v if e.id is not None)
            for k, v in snap.evidence_by_claim.items()
            if v
        },
        "claims_by_capability": {
            k: sorted(c.id for c in v if c.id is not None)
            for k, v in snap.claims_by_capability.items()
            if v
        },
        "evidence_by_capability": {
            k: sorted(e.id for e in v if e.id is not None)
            for k, v in snap.evidence_by_capability.items()
            if v
        },
        "claims_by_id": sorted(snap.claims_by_id),
        "evidence_by_id": sorted(snap.evidence_by_id),
        # What each capability's claims and evidence add up to, which a refresh moves by deltas.
        "facts": {
            k: (dict(v.counting), dict(v.claimed), dict(v.verdicts))
            for k, v in snap.facts.items()
            if v.counting or v.claimed or v.verdicts
        },
        "day": snap.day,
        "overdue_days": {c.id: snap.overdue_days(c) for c in snap.claims},
    }


class Ledger:
    """Random valid writes through the API, picking targets from what the API lists."""

    def __init__(self, client: TestClient, token: str, rng: random.Random) -> None:
        self.client, self.token, self.rng, self.serial = client, token, rng, 0

    def _slugs(self, kind: str) -> list[str]:
        items: list[str] = []
        cursor = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self.client.get(f"/api/v1/{kind}", params=params).json()
            key = "id" if kind == "evidence" else "slug"  # evidence is addressed by id
            items += [str(item[key]) for item in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def _pick(self, kind: str) -> str:
        return self.rng.choice(self._slugs(kind))

    def _name(self, stem: str) -> str:
        self.serial += 1
        return f"{stem}-{self.serial}"

    def _send(self, method: str, path: str, body: dict[str, Any]) -> None:
        etag = None
        if method == "PATCH" or path.endswith("/status"):
            etag = self.client.get(path.removesuffix("/status")).headers["etag"]
        response = self.client.request(method, path, json=body, headers=auth(self.token, etag))
        assert response.status_code in (200, 201), (method, path, body, response.text)

    def new_claim(self) -> None:
        self._send("POST", "/api/v1/claims", {
            "slug": self._name("refresh-claim"), "capability": self._pick("capabilities"),
            "event": "ai-day-2022", "text": "The part does what was said.",
            "implied_status": self.rng.choice(["built", "tested", "benchmarked"]),
            "stated_on": "2022-09-30", "grade": self.rng.choice(["P", "S", "F"]),
            "deadline": self.rng.choice([None, "2023-06-30"]),
        })  # fmt: skip

    def new_evidence(self) -> None:
        stance = self.rng.choice(["supports", "supports", "contradicts"])
        self._send("POST", "/api/v1/evidence", {
            "title": self._name("Refresh item"), "kind": "photo", "origin": "reported",
            "grade": self.rng.choice(["P", "S"]), "date": "2026-11-01", "stance": stance,
            "level": self.rng.choice(["built", "tested"]) if stance == "supports" else None,
            "capability": self._pick("capabilities"),
            # Often a claim filed under another capability: its verdict moves too.
            "claim": self.rng.choice([None, self._pick("claims")]),
            "url": "https://example.org/refresh",
        })  # fmt: skip

    def relink_evidence(self) -> None:
        item = self._pick("evidence")
        body = {"claim": self._pick("claims"), "capability": self._pick("capabilities")}
        path = f"/api/v1/evidence/{item}"
        etag = self.client.get(path).headers["etag"]
        response = self.client.patch(path, json=body, headers=auth(self.token, etag))
        assert response.status_code in (200, 422), response.text  # 422: dated before the claim

    def override(self) -> None:
        cap = self._pick("capabilities")
        body = self.rng.choice([
            {"status": "tested", "reason": "Refresh test override"},
            {"clear_override": True, "reason": "Refresh test clears"},
        ])  # fmt: skip
        self._send("POST", f"/api/v1/capabilities/{cap}/status", body)

    def new_capability(self) -> None:
        parent = self.rng.choice([None, self._pick("capabilities")])
        self._send("POST", "/api/v1/capabilities", {
            "slug": self._name("refresh-part"), "name": "Refresh part", "kind": "chip",
            "parent": parent, "critical": True,
        })  # fmt: skip

    def move_capability(self) -> None:
        cap = self._pick("capabilities")
        parent = self.rng.choice([None, self._pick("capabilities")])
        path = f"/api/v1/capabilities/{cap}"
        etag = self.client.get(path).headers["etag"]
        response = self.client.patch(path, json={"parent": parent}, headers=auth(self.token, etag))
        assert response.status_code in (200, 422), response.text  # 422: it would make a cycle

    def restate(self) -> None:
        claim, earlier = self._pick("claims"), self._pick("claims")
        path = f"/api/v1/claims/{claim}"
        etag = self.client.get(path).headers["etag"]
        response = self.client.patch(
            path, json={"restates": earlier}, headers=auth(self.token, etag)
        )
        assert response.status_code in (200, 422), response.text

    def rename_event(self) -> None:
        event = self._pick("events")
        self._send("PATCH", f"/api/v1/events/{event}", {"name": self._name("Renamed event")})


def _grow(copies: int, *, whole: bool) -> None:
    """Grow the seeded ledger: copy whole hierarchies (wide), or only the Dojo hierarchy's
    claims and evidence under the same capabilities (deep). A copied claim restates the one it
    copies (another appearance of the same claim, sharing its evidence) unless its copy does."""
    with Session(get_engine()) as session:
        caps = session.exec(select(Capability).order_by(col(Capability.id))).all()
        claims = session.exec(select(Claim).order_by(col(Claim.id))).all()
        items = session.exec(select(Evidence).order_by(col(Evidence.id))).all()
        dojo = {c.id for c in caps if c.slug.startswith("dojo-") and c.slug not in DOJO_APART}
        for n in range(1, copies + 1):
            cap_of: dict[int | None, int | None] = {None: None} | {c.id: c.id for c in caps}
            if whole:
                for cap in caps:  # parents come first, by id
                    copy = Capability.model_validate(
                        cap.model_dump(exclude={"id"}),
                        update={"slug": f"{cap.slug}-w{n}", "parent_id": cap_of[cap.parent_id]},
                    )
                    session.add(copy)
                    session.flush()
                    cap_of[cap.id] = copy.id
            claim_of: dict[int | None, int | None] = {}
            for claim in claims:
                if whole or claim.capability_id in dojo:
                    copy_claim = Claim.model_validate(
                        claim.model_dump(exclude={"id"}),
                        update={
                            "slug": f"{claim.slug}-c{n}",
                            "capability_id": cap_of[claim.capability_id],
                            "restates_id": claim_of.get(claim.restates_id, claim.id),
                        },
                    )
                    session.add(copy_claim)
                    session.flush()
                    claim_of[claim.id] = copy_claim.id
            for item in items:
                if whole or item.capability_id in dojo:
                    session.add(
                        Evidence.model_validate(
                            item.model_dump(exclude={"id"}),
                            update={
                                "slug": f"{item.slug}-c{n}",
                                "capability_id": cap_of[item.capability_id],
                                "claim_id": claim_of.get(item.claim_id, item.claim_id),
                            },
                        )
                    )
        bump_data_version(session, EVERYTHING)
        session.commit()
    snapshot.invalidate()


# Roots of their own, not parts of the Dojo ExaPOD's hierarchy.
DOJO_APART = {"dojo-v1-cluster", "dojo-2", "dojo-3"}


@pytest.mark.parametrize("shape", ["wide", "deep"])
def test_refreshed_snapshot_equals_a_full_load(
    client: TestClient, write_token: str, monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    """Wide: many small hierarchies. Deep: the Dojo hierarchy holds most of the ledger; a
    write under it refreshes what it wrote, never reloads everything."""
    _grow(2, whole=shape == "wide")
    full_loads: list[int] = []
    real_load = snapshot.load

    def counting_load(session: Session, version: int | None = None) -> snapshot.Snapshot:
        full_loads.append(1)
        return real_load(session, version)

    monkeypatch.setattr(snapshot, "load", counting_load)
    ledger = Ledger(client, write_token, random.Random(20261129))
    writes: list[Callable[[], None]] = [
        ledger.new_claim,
        ledger.new_evidence,
        ledger.relink_evidence,
        ledger.override,
        ledger.new_capability,
        ledger.move_capability,
        ledger.restate,
        ledger.rename_event,
    ]
    with Session(get_engine()) as session:
        snapshot.get(session)
    loads_before = len(full_loads)
    for step in range(40):
        write = writes[step % len(writes)] if step < len(writes) else ledger.rng.choice(writes)
        write()
        with Session(get_engine()) as session:
            refreshed = snapshot.get(session)
            assert _digest(refreshed) == _digest(real_load(session)), write.__name__
    assert len(full_loads) == loads_before, "a write fell back to a full load"


def test_a_write_outside_the_log_falls_back_to_a_full_load(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.claims.models import Claim
    from app.status.history import OUTSIDE_SNAPSHOT, bump_data_version

    with Session(get_engine()) as session:
        before = snapshot.get(session)
        claim = session.get(Claim, next(iter(before.claims_by_id)))
        assert claim is not None
        copy = Claim.model_validate(claim.model_dump(exclude={"id"}), update={"slug": "sneaked-in"})
        session.add(copy)
        bump_data_version(session, OUTSIDE_SNAPSHOT)  # claims it touched nothing: it lies
        session.commit()
        after = snapshot.get(session)
    assert "sneaked-in" in {claim.slug for claim in after.claims}
    assert len(after.claims) == len(before.claims) + 1


def test_a_new_day_reassesses_the_cached_rows_without_reading_them(
    client: TestClient, write_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Overnight, deadlines pass: the assessments move, and no row is read again."""
    with Session(get_engine()) as session:
        first = snapshot.get(session)
    deadlines = sorted(c.deadline for c in first.claims if c.deadline is not None)
    days = [deadlines[0] - dt.timedelta(days=1), deadlines[-1] + dt.timedelta(days=1)]
    monkeypatch.setattr(snapshot, "today", lambda: days[0])
    with Session(get_engine()) as session:
        early = snapshot.get(session)
        assert _digest(early) == _digest(snapshot.load(session))
    assert not any(a.overdue for a in early.assessments.values())

    def no_full_load(session: Session, version: int | None = None) -> snapshot.Snapshot:
        raise AssertionError("a new day read every row again")

    real_load = snapshot.load
    monkeypatch.setattr(snapshot, "load", no_full_load)
    monkeypatch.setattr(snapshot, "today", lambda: days[1])
    with Session(get_engine()) as session:
        late = snapshot.get(session)
        assert _digest(late) == _digest(real_load(session))
    assert any(a.overdue for a in late.assessments.values())
    assert late.claims_by_id is early.claims_by_id  # the very rows, not a reload

    # A write and a new day at once: the write's hierarchy is refreshed, then all re-assessed.
    # A capability alone in its hierarchy: the refresh stays within its share of the ledger.
    slug = next(
        c.slug for c in first.capabilities if c.parent_id is None and c.id not in first.child_ids
    )
    etag = client.get(f"/api/v1/capabilities/{slug}").headers["etag"]
    response = client.patch(
        f"/api/v1/capabilities/{slug}",
        json={"description": "Re-read overnight."},
        headers={**auth(write_token), "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    monkeypatch.setattr(snapshot, "today", lambda: days[0])
    with Session(get_engine()) as session:
        both = snapshot.get(session)
        assert _digest(both) == _digest(real_load(session))
    assert both.capability_by_slug[slug].description == "Re-read overnight."


def test_the_app_builds_its_snapshot_at_start_up(db_url: str) -> None:
    """The first request reads a snapshot built beside start-up, not one it must build."""
    from app.main import create_app

    snapshot.invalidate()
    with TestClient(create_app()):
        warming = [t for t in threading.enumerate() if t.name == "snapshot-warm"]
        for thread in warming:
            thread.join(timeout=30)
        assert snapshot._cached is not None, "no snapshot was built at start-up"
        with Session(get_engine()) as session:
            assert snapshot.get(session) is snapshot._cached


def test_a_reader_that_waited_takes_a_newer_snapshot_instead_of_loading(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that saw version v, then waited while a write's refresh reached v+1, reads v+1.

    Before, it fell through to a full load labelled with its stale version: seconds on a
    large ledger, and one more full load the next request had to refresh from.
    """
    from dataclasses import replace

    with Session(get_engine()) as session:
        current = snapshot.get(session)
    # The reader sees the current snapshot as stale (the database says v+1, it holds v) ...
    stale_reader_version = current.version + 1
    newer = replace(current, version=current.version + 2)
    monkeypatch.setattr(snapshot, "data_version", lambda session: stale_reader_version)

    def no_full_load(session: Session, version: int | None = None) -> snapshot.Snapshot:
        raise AssertionError("the reader loaded everything again")

    monkeypatch.setattr(snapshot, "load", no_full_load)
    result: list[snapshot.Snapshot] = []
    with snapshot._lock:  # ... and waits while a writer's refresh installs v+2
        reader = threading.Thread(target=lambda: result.append(_read()))
        reader.start()
        reader.join(timeout=0.5)
        assert reader.is_alive(), "the reader did not wait for the lock"
        snapshot._cached = newer
    reader.join(timeout=30)
    assert result == [newer]

    # Without a refresh meanwhile, a cached label above the database's means it went back.
    monkeypatch.setattr(snapshot, "data_version", lambda session: current.version)
    monkeypatch.setattr(snapshot, "load", lambda session, version=None: current)
    assert _read() is current


def _read() -> snapshot.Snapshot:
    with Session(get_engine()) as session:
        return snapshot.get(session)
