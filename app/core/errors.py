"""Errors as RFC 9457 problem details (application/problem+json)."""

from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_TYPE = "application/problem+json"


class ProblemDetail(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_TYPE: {"schema": ProblemDetail.model_json_schema()}},
    }


# Every route can answer these; routers declare them so the OpenAPI document is complete.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("Bad request (for example an invalid cursor or sort)"),
    404: _problem_response("Not found"),
    422: _problem_response("Invalid input; `detail` names the field"),
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem_response("No token, or an unknown or revoked one"),
    403: _problem_response("The token lacks the write scope"),
    409: _problem_response("Conflicts with existing data"),
    412: _problem_response("If-Match is stale: GET again and re-apply"),
    428: _problem_response("If-Match is missing"),
}


class ProblemError(Exception):
    """An error with a status, a title and a clear detail, rendered as problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem(
    status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """Build a problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_TYPE, headers=headers
    )


class InvalidFilter(ProblemError):
    """A list filter names a value that does not exist: 422 on the API, 400 on a page.

    It carries the field and every allowed value, so the answer can list them (a page links
    each one); a list is never silently left unfiltered.
    """

    MAX_LISTED = 60

    def __init__(self, field: str, value: object, allowed: Iterable[str]) -> None:
        choices = list(allowed)
        listed = choices[: self.MAX_LISTED]
        more = len(choices) - len(listed)
        detail = f"{field}: '{value}' is not a known value. Allowed: {', '.join(listed)}" + (
            f" and {more} more." if more else "."
        )
        super().__init__(422, "Unknown filter value", detail, field=field, allowed=choices)
        self.field = field
        self.value = value
        self.allowed = choices


def check_filter(field: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """Return `value` when it is one of `allowed` (or empty: no filter), else raise InvalidFilter."""
    if value is None or value == "":
        return None
    choices = list(allowed)
    if value not in choices:
        raise InvalidFilter(field, value, choices)
    return value


def unauthorized(detail: str) -> ProblemError:
    """Return the 401 for a missing or bad bearer token (RFC 6750 asks for WWW-Authenticate)."""
    return ProblemError(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def not_found(kind: str, key: object) -> ProblemError:
    """Return the error for a missing entity."""
    return ProblemError(404, "Not found", f"No {kind} '{key}'.")


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _allowed_methods(request: Request) -> list[str]:
    # Each method of a path is its own route, so Starlette's Allow lists only one of them.
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return sorted(methods)


async def problem_handler(request: Request, exc: ProblemError) -> JSONResponse:
    """Answer a `ProblemError` as problem+json."""
    return problem(exc.status, exc.title, exc.detail, headers=exc.headers, **exc.extra)


async def validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """Answer invalid input as a 422 naming each field and what is wrong with it."""
    errors = [
        {
            "field": ".".join(str(part) for part in err.get("loc", ())),
            "message": err.get("msg", ""),
        }
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request."
    return problem(422, "Invalid request", detail, errors=errors)


async def http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Answer Starlette's HTTP errors (404, 405...) as problem+json; a 405 lists what is allowed."""
    titles = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
    }
    response = problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


async def integrity_handler(request: Request, exc: IntegrityError) -> JSONResponse:
    """Answer a constraint the database refused as a 409."""
    return problem(409, "Conflict", "The change conflicts with existing data (duplicate slug?).")


# The API's handlers: every error as problem+json (the dashboard answers pages itself).
PROBLEM_HANDLERS: dict[Any, Any] = {
    ProblemError: problem_handler,
    RequestValidationError: validation_handler,
    StarletteHTTPException: http_handler,
    IntegrityError: integrity_handler,
}
