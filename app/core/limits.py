"""Generic input bounds applied before any model or the database sees a value.

Every request body, query string, path, form and stored JSON document (benchmark specs, imports)
passes these checks: a size limit, a nesting limit, no NUL or lone surrogate in any string,
finite numbers, integers within int64. The simulator's spec schema adds its own rules on top.
"""

import json
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator

MAX_BODY_BYTES = 1_048_576  # 1 MiB: the largest legitimate body (a custom spec) is a few KB.
MAX_JSON_DEPTH = 32  # objects and arrays inside one another; specs use fewer than 8.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# PostgreSQL text cannot hold NUL; UTF-8 cannot encode a lone surrogate.
_FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class InputError(ValueError):
    """A value breaks one of the generic bounds; the message says which and where."""


class MalformedJson(InputError):
    """The text is not strict JSON (NaN and Infinity are not JSON)."""


def check_text(value: str, where: str = "value") -> str:
    """Refuse a string holding NUL or a lone surrogate."""
    found = _FORBIDDEN_CHARACTERS.search(value)
    if found is not None:
        name = "a NUL character" if found.group() == "\x00" else "an unpaired surrogate"
        raise InputError(f"{where}: contains {name}.")
    return value


def check_number(value: int | float, where: str = "value") -> int | float:
    """Refuse NaN, infinities and integers outside int64."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InputError(f"{where}: integer outside the 64-bit range.")
    elif not math.isfinite(value):
        raise InputError(f"{where}: must be a finite number.")
    return value


def check_json_value(value: Any, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Refuse a decoded JSON document that is too deep or holds a forbidden string or number.

    Walks iteratively, so a hostile document cannot exhaust the stack.
    """
    stack: list[tuple[Any, int, str]] = [(value, 0, "$")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise InputError(f"{where}: nested deeper than {max_depth} levels.")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise InputError(f"{where}: object keys must be strings.")
                    check_text(key, f"{where} key")
                    stack.append((child, depth + 1, f"{where}.{key[:40]}"))
            else:
                stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, int | float):
            check_number(item, where)
        elif item is not None:
            raise InputError(f"{where}: not a JSON value.")
    return value


def _refuse_constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not valid JSON; send a finite number or null.")


def decode_json(raw: str | bytes) -> Any:
    """Decode strict JSON: no NaN or Infinity literals; nesting is bounded by the interpreter.

    Raises MalformedJson; its message is safe to show to the sender.
    """
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise MalformedJson("Malformed JSON: nested too deeply to read.") from exc
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise MalformedJson(f"Malformed JSON: {exc.msg} ({where}).") from exc
    except UnicodeDecodeError as exc:
        raise MalformedJson("Malformed JSON: the text is not UTF-8.") from exc


def parse_json(raw: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode strict JSON and apply `check_json_value`; raises InputError."""
    try:
        value = decode_json(raw)
    except MalformedJson as exc:
        if "nested too deeply" in str(exc):
            raise InputError(f"$: nested deeper than {max_depth} levels.") from exc
        raise
    return check_json_value(value, max_depth)


def _checked_object(value: dict[str, Any]) -> dict[str, Any]:
    return check_json_value(value)


# A JSON object for storage (specs, results): bounded depth, finite numbers, clean strings.
JsonObject = Annotated[dict[str, Any], AfterValidator(_checked_object)]
