"""Form errors that explain themselves: one message per field, saying what to do.

Every dashboard form shows its errors as sign-in does (templates/_macros.html: `field_attrs`,
`field_error`, `error_summary`): the field is marked aria-invalid, the message is linked to it
by aria-describedby, the first field in error takes the focus, and the title starts "Error:".
"""

import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from app.core.errors import ProblemError

# Validation messages rewritten as instructions: (pattern of the message, what to say).
_ADVICE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Field required$"), "Fill this in."),
    (
        re.compile(r"^String should have at least (\d+) characters?$"),
        "Write at least {0} characters.",
    ),
    (
        re.compile(r"^String should have at most (\d+) characters?$"),
        "Shorten it to {0} characters or fewer.",
    ),
    (
        re.compile(r"^Input should be a valid date.*"),
        "Enter a date as YYYY-MM-DD, for example 2021-08-19.",
    ),
    (
        re.compile(r"^Input should be a valid URL.*"),
        "Enter a full address that starts with https://.",
    ),
    (re.compile(r"^URL scheme should be .*"), "Enter a full address that starts with https://."),
    (re.compile(r"^Input should be (('[^']*'(, | or )?)+)$"), "Choose one of: {0}."),
    (re.compile(r"^Input should be a valid integer.*"), "Enter a whole number."),
    (re.compile(r"^Input should be a valid number.*"), "Enter a number."),
]


def advice(message: str) -> str:
    """Return a validation message as an instruction ("Fill this in.")."""
    message = message.removeprefix("Value error, ").strip()
    for pattern, text in _ADVICE:
        found = pattern.match(message)
        if found:
            return text.format(*(g.replace("'", "") for g in found.groups() if g))
    return message[:1].upper() + message[1:] if message else "Check this value."


def _message(err: Any) -> str:
    """Return the instruction for one validation error; an empty field arrives as None."""
    if err.get("input", "") is None:
        kind = str(err.get("type", ""))
        if kind in ("enum", "literal_error"):
            return "Choose one."
        if kind.endswith("_type") or kind == "missing":
            return "Fill this in."
    return advice(str(err.get("msg", "")))


def form_errors(
    exc: ValidationError | ProblemError, fields: Sequence[str]
) -> tuple[dict[str, str], int]:
    """Return each field's message (key "form" when no field is to blame) and the status.

    A service's problem that names a field ("stated_on: …") is shown beside that field.
    """
    if isinstance(exc, ValidationError):
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            field = next((p for p in loc if p in fields), ".".join(loc) or "form")
            errors.setdefault(field, _message(err))
        return errors, 422
    named = re.match(r"^(\w+): (.+)$", exc.detail, re.DOTALL)
    if named and named.group(1) in fields:
        return {named.group(1): advice(named.group(2))}, exc.status
    return {"form": exc.detail}, exc.status


def error_context(errors: dict[str, str] | None, fields: Sequence[str]) -> dict[str, Any]:
    """Return what a form template needs: the errors and the first field in error to focus."""
    errors = errors or {}
    first = next((f for f in fields if f in errors), None)
    return {"errors": errors, "first_error": first}
