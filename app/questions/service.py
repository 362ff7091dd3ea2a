"""Questions: list, get, create, update, and the answer computed from the ledger."""

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core import lookup
from app.core.errors import ProblemError
from app.core.schema import LEVEL_RANK, Level
from app.questions.models import (
    Answer,
    AnswerOption,
    CapabilityAnswer,
    ClaimHolding,
    EvidenceLink,
    OptionAnswer,
    Question,
    QuestionCreate,
    QuestionPublic,
    QuestionUpdate,
    option_problem,
)
from app.sources.models import Source
from app.status import snapshot
from app.status.history import OUTSIDE_SNAPSHOT, bump_data_version
from app.status.unit_of_work import guarded_update

HOLDS, CONTRADICTED, OPEN = "holds", "contradicted", "open"


def _label(level: str) -> str:
    return level.replace("_", " ").capitalize()


def _option(option: AnswerOption, snap: snapshot.Snapshot) -> OptionAnswer:
    """Decide one option from its claims' verdicts and its capability's status then.

    Claims: it holds when one of them holds (a verdict that meets the rules' deadline) and
    none is contradicted. A capability: when its status is within at_least..at_most.
    """
    claims = [snap.claim_by_slug[s] for s in option.claims if s in snap.claim_by_slug]
    met = snap.rules.meets_deadline
    claims_hold = not option.claims or any(
        c.id is not None and snap.verdicts[c.id].code in met for c in claims
    )
    cap = snap.capability_by_slug.get(option.capability) if option.capability else None
    status = snap.assessments[cap.id].status if cap is not None and cap.id is not None else None
    rank = LEVEL_RANK[Level(status or Level.not_assessed)]
    cap_holds = option.capability is None or (
        (option.at_least is None or rank >= LEVEL_RANK[option.at_least])
        and (option.at_most is None or rank <= LEVEL_RANK[option.at_most])
    )
    if any(snap.contradicted(c.id) for c in claims):
        state = CONTRADICTED
    else:
        state = HOLDS if claims_hold and cap_holds else OPEN
    return OptionAnswer(
        code=option.code,
        label=option.label,
        state=state,
        capability=option.capability,
        capability_status=status,
        claims=[
            ClaimHolding(slug=c.slug, text=c.text, verdict=snap.verdicts[c.id].code)
            for c in claims
            if c.id is not None
        ],
    )


def _words(options: list[OptionAnswer], caps: list[CapabilityAnswer], day: dt.date) -> str:
    parts = []
    for state, lead in ((HOLDS, "Holds"), (CONTRADICTED, "Contradicted"), (OPEN, "Not shown")):
        labels = [o.label for o in options if o.state == state]
        if labels:
            parts.append(f"{lead}: {', '.join(labels)}.")
    by_status: dict[str, list[str]] = {}
    for cap in caps:
        by_status.setdefault(cap.status, []).append(cap.name)
    for status, names in sorted(by_status.items(), key=lambda kv: -LEVEL_RANK[Level(kv[0])]):
        parts.append(f"{_label(status)}: {', '.join(names)}.")
    ended = [f"{c.name} ({c.outcome})" for c in caps if c.outcome != "active"]
    if ended:
        parts.append(f"Ended by then: {', '.join(ended)}.")
    if not parts:
        parts.append("Nothing in the ledger bears on it yet.")
    return f"As of {day.isoformat()}: " + " ".join(parts)


def answer(
    session: Session, snap: snapshot.Snapshot, question: Question, *, cache: bool = True
) -> Answer:
    """Compute a question's answer from the ledger `snap` shows (its day, or the question's)."""
    holds_for = min(question.about, snap.day) if question.about else snap.day
    view = snapshot.view(session, snap, holds_for, cache=cache)
    options = [_option(AnswerOption.model_validate(o), view) for o in question.options]
    caps = []
    for slug in question.capabilities:
        cap = view.capability_by_slug.get(slug)
        if cap is None or cap.id is None:
            continue
        assessment = view.assessments[cap.id]
        caps.append(
            CapabilityAnswer(
                slug=cap.slug,
                name=cap.name,
                status=assessment.status,
                claimed_status=assessment.claimed_status,
                outcome=str(view.outcome_of(cap).get("outcome", cap.outcome)),
            )
        )
    evidence = [
        EvidenceLink(
            id=item.id,
            claim=claim.slug,
            title=item.title,
            stance=item.stance,
            benchmark_run_id=item.benchmark_run_id,
        )
        for option in options
        for claim in option.claims
        for item in view.evidence_by_claim.get(view.claim_by_slug[claim.slug].id or 0, [])
        if item.id is not None and item.grade in view.rules.deciding_grades
    ]
    holding = [o.code for o in options if o.state == HOLDS]
    return Answer(
        holds_for=holds_for,
        text=_words(options, caps, holds_for),
        holding=holding,
        options=options,
        capabilities=caps,
        evidence=evidence,
        runs=sorted({e.benchmark_run_id for e in evidence if e.benchmark_run_id is not None}),
        summary_holds=all(code in holding for code in question.says)
        and not any(code in holding for code in question.denies),
    )


def to_public(session: Session, snap: snapshot.Snapshot, question: Question) -> QuestionPublic:
    """Build the public view of a question with its computed answer."""
    return QuestionPublic.model_validate(
        question, update={"answer": answer(session, snap, question)}
    )


def bears_on(question: Question, snap: snapshot.Snapshot, capability: str) -> bool:
    """Return whether a question names the capability, or a claim about it."""
    if capability in question.capabilities or any(
        o.get("capability") == capability for o in question.options
    ):
        return True
    cap = snap.capability_by_slug.get(capability)
    return cap is not None and any(
        (claim := snap.claim_by_slug.get(slug)) is not None and claim.capability_id == cap.id
        for option in question.options
        for slug in option.get("claims", [])
    )


def list_public(session: Session, *, capability: str | None = None) -> list[QuestionPublic]:
    """Every question with its answer, in the order they were added; filtered by capability."""
    snap = snapshot.get(session)
    rows = session.exec(select(Question).order_by(col(Question.id))).all()
    return [
        to_public(session, snap, q)
        for q in rows
        if capability is None or bears_on(q, snap, capability)
    ]


def get_by_slug(session: Session, slug: str) -> Question:
    """Return a question or raise 404."""
    return lookup.get_by_slug(session, Question, slug)


def get_public(session: Session, slug: str) -> QuestionPublic:
    """Return one question with its answer."""
    return to_public(session, snapshot.get(session), get_by_slug(session, slug))


def check_links(session: Session, question: Question) -> None:
    """Refuse (422) links to claims, capabilities or sources that do not exist."""
    snap = snapshot.current(session)
    missing = [
        f"claim '{slug}'"
        for option in question.options
        for slug in option.get("claims", [])
        if slug not in snap.claim_by_slug
    ]
    missing += [
        f"capability '{o['capability']}'"
        for o in question.options
        if o.get("capability") and o["capability"] not in snap.capability_by_slug
    ]
    missing += [
        f"capability '{s}'" for s in question.capabilities if s not in snap.capability_by_slug
    ]
    known = set(_source_keys(session, question.sources))
    missing += [f"source '{key}'" for key in question.sources if key not in known]
    if missing:
        raise ProblemError(422, "Unknown reference", "No " + ", no ".join(missing) + ".")


def _source_keys(session: Session, keys: Iterable[str]) -> list[str]:
    wanted = list(keys)
    if not wanted:
        return []
    return list(session.exec(select(Source.key).where(col(Source.key).in_(wanted))).all())


def summary_problem(
    session: Session, snap: snapshot.Snapshot, question: Question, *, cache: bool = True
) -> str | None:
    """Return why the summary contradicts the computed answer, or None when it does not."""
    found = answer(session, snap, question, cache=cache)
    labels = {o.code: o.label for o in found.options}
    states = {o.code: o.state for o in found.options}
    said = [c for c in question.says if c not in found.holding]
    denied = [c for c in question.denies if c in found.holding]
    parts = [
        f"the summary {verb} '{labels.get(c, c)}', but the computed answer has it {states.get(c)}"
        for verb, codes in (("says", said), ("denies", denied))
        for c in codes
    ]
    if not parts:
        return None
    return "; ".join(parts) + f" ({found.text})"


def _refuse_contradicting_summary(session: Session, question: Question) -> None:
    problem = summary_problem(session, snapshot.current(session), question)
    if problem:
        raise ProblemError(
            422,
            "Summary contradicts the answer",
            problem[0].upper() + problem[1:] + ".",
            field="summary",
        )


def create(session: Session, data: QuestionCreate) -> Question:
    """Create a question; its links must resolve and its summary must not contradict it."""
    lookup.ensure_new_slug(session, Question, data.slug)
    question = Question.model_validate(data.model_dump(mode="json"), update={"about": data.about})
    check_links(session, question)
    _refuse_contradicting_summary(session, question)
    session.add(question)
    bump_data_version(session, OUTSIDE_SNAPSHOT)
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent writer took the slug first
        session.rollback()
        raise lookup.taken(Question, data.slug) from exc
    session.refresh(question)
    return question


def update(
    session: Session,
    question: Question,
    data: QuestionUpdate,
    *,
    expected_version: int | None = None,
) -> Question:
    """Apply a partial update, if the question is still at the version the editor read."""
    changes = data.model_dump(mode="json", exclude_unset=True)
    if "about" in changes:
        changes["about"] = data.about
    for name in ("text", "summary", "says", "denies", "capabilities", "options", "sources"):
        if name in changes and changes[name] is None:
            raise ProblemError(422, "Invalid value", f"{name} cannot be null.", field=name)
    proposed = Question.model_validate({**question.model_dump(), **changes})
    problem = option_problem(
        [str(o.get("code")) for o in proposed.options], proposed.says, proposed.denies
    )
    if problem:
        raise ProblemError(422, "Invalid options", problem + ".", field="options")
    check_links(session, proposed)
    _refuse_contradicting_summary(session, proposed)
    try:
        guarded_update(session, question, changes, expected_version)
        bump_data_version(session, OUTSIDE_SNAPSHOT)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(question)
    return question
