"""Editor forms: add evidence and update a status (optimistic concurrency, CSRF)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import ValidationError
from sqlmodel import Session

from app.capabilities import service as cap_service
from app.capabilities.models import StatusUpdate
from app.claims import service as claims_service
from app.core.db import SessionDep
from app.core.errors import ProblemError
from app.dashboard import auth, forms
from app.dashboard.auth import viewer
from app.dashboard.templating import LADDER, render
from app.evidence import service as evidence_service
from app.evidence.models import EvidenceCreate, EvidenceKind, Origin, Stance
from app.history.models import CHOSEN_REASONS, ReasonCode
from app.status.unit_of_work import stale

router = APIRouter(include_in_schema=False, dependencies=[Depends(viewer)])
Text = Annotated[str, Form(max_length=10_000)]
REASON_CODES = {code.value: code.label for code in CHOSEN_REASONS}


STATUS_FIELDS = ("status", "reason_code", "clear_override", "reason", "evidence_ids")


# ---- Status update ------------------------------------------------------------------------


def _status_context(session: Session, slug: str, form: dict[str, Any], **extra: Any) -> dict:
    cap = cap_service.get_public(session, slug)
    # Evidence about the world only: a check (arithmetic, a simulation) never sets a level.
    evidence, _ = evidence_service.list_page(
        session, capability=slug, checks="exclude", sort="-date", limit=500
    )
    return {
        "cap": cap,
        "evidence": evidence,
        "levels": LADDER[1:],
        "reason_codes": REASON_CODES,
        "form": form,
        "api_twin": f"/api/v1/capabilities/{slug}",
        **extra,
    }


@router.get("/capabilities/{slug}/status")
def status_form(request: Request, session: SessionDep, slug: str):
    """Show the status update form for a capability."""
    auth.require_editor(request, session)
    row = cap_service.get_by_slug(session, slug)
    form = {"version": row.version, "status": "", "reason_code": ReasonCode.evidence_added,
            "reason": "", "evidence_ids": [], "clear_override": False}  # fmt: skip
    return render(request, "status_form.html", _status_context(session, slug, form))


def _stale_form(
    request: Request, session: Session, slug: str, form: dict[str, Any], version: int
) -> Response:
    """Answer a form based on an older version: nothing saved, the input kept (409)."""
    current = cap_service.get_by_slug(session, slug).version
    # The form now carries the current version, so a second submit (after reading the
    # current state) applies.
    form["version"] = current
    message = (
        "Someone else changed this capability after you opened the form "
        f"(you edited version {version}; it is now version {current}). "
        "Nothing was saved. Check its current status below; your input is kept, "
        "so you can submit again."
    )
    return render(
        request,
        "status_form.html",
        _status_context(session, slug, form, stale=message),
        status_code=409,
    )


@router.post("/capabilities/{slug}/status")
def status_submit(
    request: Request,
    session: SessionDep,
    slug: str,
    version: Annotated[int, Form()] = 0,
    status: Annotated[str, Form(max_length=40)] = "",
    clear_override: Annotated[str, Form(max_length=5)] = "",
    evidence_ids: Annotated[list[int] | None, Form()] = None,
    reason_code: Annotated[str, Form(max_length=40)] = ReasonCode.evidence_added,
    reason: Text = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
):
    """Apply a status update, unless the capability changed since the form was opened."""
    editor = auth.require_editor(request, session)
    auth.verify_csrf(request, csrf_token)
    row = cap_service.get_by_slug(session, slug)
    form = {
        "version": version,
        "status": status,
        "clear_override": bool(clear_override),
        "evidence_ids": evidence_ids or [],
        "reason_code": reason_code,
        "reason": reason,
    }
    try:
        # The form offers only the chosen reasons: a legacy code is for scripts, not editors.
        if reason_code not in REASON_CODES:
            raise ProblemError(422, "Unknown reason", "reason_code: Choose one of the reasons.")
        update = StatusUpdate.model_validate(
            {
                "status": status or None,
                "clear_override": bool(clear_override),
                "evidence_ids": evidence_ids or [],
                "reason_code": reason_code,
                "reason": reason.strip(),
            }
        )
        if version != row.version:
            raise stale(row, row.version)
        # The service checks the version again under the write lock: one of many racing wins.
        cap_service.update_status(
            session, row, update, actor=auth.actor_name(editor), expected_version=version
        )
    except (ValidationError, ProblemError) as exc:
        if isinstance(exc, ProblemError) and exc.status == 412:
            return _stale_form(request, session, slug, form, version)
        errors, status_code = forms.form_errors(exc, STATUS_FIELDS)
        return render(
            request,
            "status_form.html",
            _status_context(session, slug, form, **forms.error_context(errors, STATUS_FIELDS)),
            status_code=status_code,
        )
    return auth.redirect(request, f"/capabilities/{slug}?saved=status#history")


# ---- Add evidence -------------------------------------------------------------------------


def _evidence_context(session: Session, slug: str, form: dict[str, Any], **extra: Any) -> dict:
    cap = cap_service.get_public(session, slug)
    claims, _ = claims_service.list_page(session, capability=slug, limit=1000)
    return {
        "cap": cap,
        "claims": claims,
        "kinds": [k.value for k in EvidenceKind],
        "origins": [p.value for p in Origin],
        "levels": LADDER[1:],
        "form": form,
        "api_twin": "/api/v1/evidence",
        **extra,
    }


# In the form's order: the first field in error takes the focus.
EVIDENCE_FIELDS = ("title", "summary", "kind", "origin", "grade", "date", "date_precision",
                   "stance", "assumption", "level", "claim", "url", "archived_url")  # fmt: skip


@router.get("/capabilities/{slug}/evidence/new")
def evidence_form(request: Request, session: SessionDep, slug: str, claim: str = ""):
    """Show the add-evidence form for a capability."""
    auth.require_editor(request, session)
    form = dict.fromkeys(EVIDENCE_FIELDS, "")
    form.update(stance="supports", grade="S", claim=claim, date_precision="day")
    return render(request, "evidence_form.html", _evidence_context(session, slug, form))


@router.post("/capabilities/{slug}/evidence")
def evidence_submit(
    request: Request,
    session: SessionDep,
    slug: str,
    title: Annotated[str, Form(max_length=300)] = "",
    summary: Text = "",
    kind: Annotated[str, Form(max_length=40)] = "",
    origin: Annotated[str, Form(max_length=40)] = "",
    grade: Annotated[str, Form(max_length=2)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    archived_url: Annotated[str, Form(max_length=2000)] = "",
    date: Annotated[str, Form(max_length=20)] = "",
    date_precision: Annotated[str, Form(max_length=5)] = "day",
    stance: Annotated[str, Form(max_length=20)] = "supports",
    assumption: Text = "",
    level: Annotated[str, Form(max_length=20)] = "",
    claim: Annotated[str, Form(max_length=120)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
):
    """Add an evidence item; the capability is re-assessed and the change logged."""
    editor = auth.require_editor(request, session)
    auth.verify_csrf(request, csrf_token)
    cap_service.get_by_slug(session, slug)
    form = {"title": title, "summary": summary, "kind": kind, "origin": origin,
            "grade": grade, "url": url, "archived_url": archived_url, "date": date,
            "date_precision": date_precision, "stance": stance, "assumption": assumption,
            "level": level, "claim": claim}  # fmt: skip
    payload = {key: (value.strip() or None) for key, value in form.items()}
    payload["capability"] = slug
    payload["date_precision"] = payload["date_precision"] or "day"
    if payload["stance"] != Stance.supports:
        payload["level"] = payload["level"] or None
    try:
        data = EvidenceCreate.model_validate(payload)
        evidence_service.create(session, data, actor=auth.actor_name(editor))
    except (ValidationError, ProblemError) as exc:
        errors, status_code = forms.form_errors(exc, EVIDENCE_FIELDS)
        return render(
            request,
            "evidence_form.html",
            _evidence_context(session, slug, form, **forms.error_context(errors, EVIDENCE_FIELDS)),
            status_code=status_code,
        )
    return auth.redirect(request, f"/capabilities/{slug}?saved=evidence#evidence")
