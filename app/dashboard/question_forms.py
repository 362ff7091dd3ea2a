"""Editor forms for the readers' questions: add one, edit one (CSRF, version guard)."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import ValidationError

from app.core.db import SessionDep
from app.core.errors import ProblemError
from app.core.limits import InputError, parse_json
from app.dashboard import auth
from app.dashboard.auth import viewer
from app.dashboard.templating import render
from app.questions import service
from app.questions.models import QuestionCreate, QuestionUpdate

router = APIRouter(include_in_schema=False, dependencies=[Depends(viewer)])
Line = Annotated[str, Form(max_length=300)]
List = Annotated[str, Form(max_length=4_000)]
Options = Annotated[str, Form(max_length=20_000)]
LISTS = ("capabilities", "sources", "says", "denies")
OPTIONS_EXAMPLE = (
    '[{"code": "redundancy", "label": "Redundancy", "claims": ["fsd-hw3-dual-redundancy"]},\n'
    ' {"code": "tile_tested", "label": "The tile ran", "capability": "dojo-training-tile",'
    ' "at_least": "tested"}]'
)


def _blank() -> dict[str, Any]:
    form = dict.fromkeys(("slug", "text", "summary", "about", *LISTS), "")
    return {**form, "options": "[]", "version": 0}


def _filled(question: Any) -> dict[str, Any]:
    return {
        "slug": question.slug,
        "text": question.text,
        "summary": question.summary,
        "about": question.about.isoformat() if question.about else "",
        **{name: ", ".join(getattr(question, name)) for name in LISTS},
        "options": json.dumps(question.options, indent=1, ensure_ascii=False),
        "version": question.version,
    }


def _payload(form: dict[str, Any]) -> dict[str, Any]:
    """Turn the form's text fields into the API's shape; raise ProblemError for bad JSON."""
    try:
        options = parse_json(form["options"] or "[]")
    except InputError as exc:
        raise ProblemError(422, "Invalid options", f"options: {exc}", field="options") from exc
    return {
        "text": form["text"].strip(),
        "summary": form["summary"].strip(),
        "about": form["about"].strip() or None,
        **{name: [p.strip() for p in form[name].split(",") if p.strip()] for name in LISTS},
        "options": options,
    }


def _errors(exc: ValidationError | ProblemError) -> tuple[dict[str, str], int]:
    if isinstance(exc, ValidationError):
        found: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "form"
            found.setdefault(field, err["msg"].removeprefix("Value error, "))
        return found, 422
    return {str(exc.extra.get("field") or "form"): exc.detail}, exc.status


def _page(request: Request, form: dict[str, Any], *, status_code: int = 200, **extra: Any):
    return render(
        request,
        "question_form.html",
        {"form": form, "example": OPTIONS_EXAMPLE, "api_twin": "/api/v1/questions", **extra},
        status_code=status_code,
    )


@router.get("/questions/new")
def new_question(request: Request, session: SessionDep):
    """Show the form that adds a question."""
    auth.require_editor(request, session)
    return _page(request, _blank(), page_title="Add a question")


@router.get("/questions/{slug}/edit")
def edit_question(request: Request, session: SessionDep, slug: str):
    """Show the form that edits a question."""
    auth.require_editor(request, session)
    question = service.get_by_slug(session, slug)
    return _page(request, _filled(question), editing=slug, page_title="Edit a question")


@router.post("/questions")
def create_question(
    request: Request,
    session: SessionDep,
    slug: Line = "",
    text: Line = "",
    summary: Line = "",
    about: Annotated[str, Form(max_length=20)] = "",
    capabilities: List = "",
    sources: List = "",
    says: List = "",
    denies: List = "",
    options: Options = "[]",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Add a question; refused with the reason if its summary contradicts its answer."""
    auth.require_editor(request, session)
    auth.verify_csrf(request, csrf_token)
    form = {"slug": slug, "text": text, "summary": summary, "about": about,
            "capabilities": capabilities, "sources": sources, "says": says, "denies": denies,
            "options": options, "version": 0}  # fmt: skip
    try:
        data = QuestionCreate.model_validate({"slug": slug.strip(), **_payload(form)})
        service.create(session, data)
    except (ValidationError, ProblemError) as exc:
        errors, status_code = _errors(exc)
        return _page(
            request,
            form,
            status_code=status_code,
            errors=errors,
            page_title="Error: add a question",
        )
    return auth.redirect(request, f"/?saved=question#q-{data.slug}")


@router.post("/questions/{slug}")
def update_question(
    request: Request,
    session: SessionDep,
    slug: str,
    version: Annotated[int, Form()] = 0,
    text: Line = "",
    summary: Line = "",
    about: Annotated[str, Form(max_length=20)] = "",
    capabilities: List = "",
    sources: List = "",
    says: List = "",
    denies: List = "",
    options: Options = "[]",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Save an edit, unless the question changed since the form was opened."""
    auth.require_editor(request, session)
    auth.verify_csrf(request, csrf_token)
    question = service.get_by_slug(session, slug)
    form = {"slug": slug, "text": text, "summary": summary, "about": about,
            "capabilities": capabilities, "sources": sources, "says": says, "denies": denies,
            "options": options, "version": version}  # fmt: skip
    try:
        data = QuestionUpdate.model_validate(_payload(form))
        service.update(session, question, data, expected_version=version)
    except (ValidationError, ProblemError) as exc:
        errors, status_code = _errors(exc)
        if isinstance(exc, ProblemError) and exc.status == 412:
            # Keep the input, and let the next submit carry the version it now overwrites.
            form["version"] = service.get_by_slug(session, slug).version
            errors = {"form": "Someone else changed this question after you opened the form. "
                      "Nothing was saved; your input is kept, so you can submit again."}  # fmt: skip
            status_code = 409
        return _page(
            request,
            form,
            status_code=status_code,
            errors=errors,
            editing=slug,
            page_title="Error: edit a question",
        )
    return auth.redirect(request, f"/?saved=question#q-{slug}")
