"""Load the sourced seed data from YAML; a second load changes nothing."""

from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from app.capabilities.models import Capability, CapabilityCreate
from app.claims.models import Claim, ClaimCreate
from app.events.models import Event, EventCreate
from app.evidence.models import Evidence, EvidenceCreate
from app.history.models import ReasonCode
from app.ladder.models import StatusLevel
from app.questions.models import Question, QuestionCreate
from app.sources import service as sources_service
from app.status.unit_of_work import StatusWrite, has_history

SEED_ACTOR = "seed"


def _read(seed_dir: Path, name: str) -> list[dict[str, Any]]:
    path = seed_dir / name
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a YAML list")
    return data


def _sources(seed_dir: Path) -> dict[str, dict[str, Any]]:
    return {str(s["key"]): s for s in _read(seed_dir, "sources.yaml")}


def _with_source(entry: dict[str, Any], sources: dict[str, dict[str, Any]], url_field: str):
    source = sources.get(str(entry.get("source", "")), {})
    url = entry.get("url") or source.get("url")
    if url and not str(url).startswith(("http://", "https://")):
        url = None  # fact-sheet entries like "GitHub repo : path" are kept as the source key only
    return {
        "source_key": entry.get("source"),
        url_field: url,
        "grade": entry.get("grade") or source.get("grade", "S"),
    }


def seed(session: Session, seed_dir: Path) -> dict[str, int]:
    """Insert what is missing from the seed files; return how many rows were added per kind."""
    sources = _sources(seed_dir)
    replay = not has_history(session)
    # Later additions are logged as of today (the history is append-only); the first load
    # replays the evidence in the order it could have been known.
    with StatusWrite(
        session,
        actor=SEED_ACTOR,
        reason_code=ReasonCode.seed,
        reason="Seed data added",
        capability_ids=None,  # the whole ledger
    ) as write:
        added = _insert_missing(session, seed_dir, sources)
        if not any(added.values()):
            write.discard()
        elif replay:
            write.replay_history()
    return added


def _insert_missing(
    session: Session, seed_dir: Path, sources: dict[str, dict[str, Any]]
) -> dict[str, int]:
    added = {
        "status_levels": 0,
        "sources": 0,
        "events": 0,
        "capabilities": 0,
        "claims": 0,
        "evidence": 0,
        "questions": 0,
    }

    for entry in _read(seed_dir, "status_levels.yaml"):
        if session.exec(select(StatusLevel).where(StatusLevel.code == entry["code"])).first():
            continue
        session.add(StatusLevel.model_validate(entry))
        added["status_levels"] += 1

    added["sources"] = sources_service.add_missing(session, sources.values())

    for entry in _read(seed_dir, "events.yaml"):
        if session.exec(select(Event).where(Event.slug == entry["slug"])).first():
            continue
        session.add(Event.model_validate(EventCreate.model_validate(entry)))
        added["events"] += 1
    session.flush()

    cap_ids: dict[str, int] = {c.slug: c.id for c in session.exec(select(Capability)) if c.id}
    pending = _read(seed_dir, "capabilities.yaml")
    for entry in pending:
        if entry["slug"] in cap_ids:
            continue
        cap_data = CapabilityCreate.model_validate(entry)
        cap = Capability.model_validate(cap_data.model_dump(exclude={"parent"}))
        session.add(cap)
        session.flush()
        assert cap.id is not None
        cap_ids[cap.slug] = cap.id
        added["capabilities"] += 1
    for entry in pending:
        row = session.get(Capability, cap_ids[entry["slug"]])
        parent_id = cap_ids.get(entry["parent"]) if entry.get("parent") else None
        if row is not None and row.parent_id != parent_id and row.parent_id is None:
            row.parent_id = parent_id
            session.add(row)

    event_ids = {e.slug: e.id for e in session.exec(select(Event))}
    claim_ids: dict[str, int] = {c.slug: c.id for c in session.exec(select(Claim)) if c.id}
    claim_entries = _read(seed_dir, "claims.yaml")
    for entry in claim_entries:
        if entry["slug"] in claim_ids:
            continue
        data = ClaimCreate.model_validate({**entry, **_with_source(entry, sources, "source_url")})
        figure = data.figure.model_dump() if data.figure else {}
        claim = Claim.model_validate(
            data.model_dump(exclude={"capability", "event", "figure", "restates"}),
            update={
                **figure,
                "capability_id": cap_ids[data.capability],
                "event_id": event_ids[data.event],
            },
        )
        session.add(claim)
        session.flush()
        assert claim.id is not None
        claim_ids[claim.slug] = claim.id
        added["claims"] += 1
    for entry in claim_entries:
        if entry.get("restates"):
            restating = session.get(Claim, claim_ids[entry["slug"]])
            if restating is not None and restating.restates_id is None:
                restating.restates_id = claim_ids[entry["restates"]]
                session.add(restating)

    existing_evidence = {e.slug for e in session.exec(select(Evidence))}
    for entry in _read(seed_dir, "evidence.yaml"):
        if entry["slug"] in existing_evidence:
            continue
        item = EvidenceCreate.model_validate({**entry, **_with_source(entry, sources, "url")})
        session.add(
            Evidence.model_validate(
                item.model_dump(exclude={"capability", "claim"}),
                update={
                    "capability_id": cap_ids[item.capability],
                    "claim_id": claim_ids[item.claim] if item.claim else None,
                },
            )
        )
        added["evidence"] += 1
    session.flush()

    existing_questions = set(session.exec(select(Question.slug)).all())
    for entry in _read(seed_dir, "questions.yaml"):
        if entry["slug"] in existing_questions:
            continue
        question = QuestionCreate.model_validate(entry)
        session.add(
            Question.model_validate(
                question.model_dump(mode="json"), update={"about": question.about}
            )
        )
        added["questions"] += 1
    session.flush()

    return added
