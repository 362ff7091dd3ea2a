"""The generic input bounds, one value at a time."""

import subprocess
import sys

import pytest

from app.core.limits import (
    INT64_MAX,
    MAX_JSON_DEPTH,
    InputError,
    MalformedJson,
    check_json_value,
    parse_json,
)


@pytest.mark.parametrize(
    "value",
    [
        {"a": "x\u0000y"},
        {"a\u0000": 1},
        ["\ud800"],
        {"seed": INT64_MAX + 1},
        {"seed": -(2**63) - 1},
        {"v": float("inf")},
        {"v": float("nan")},
        {"v": {"w": object()}},
    ],
)
def test_bad_values_are_refused(value: object) -> None:
    with pytest.raises(InputError):
        check_json_value(value)


def test_depth_is_counted_in_containers() -> None:
    ok: object = 1
    for _ in range(MAX_JSON_DEPTH):
        ok = [ok]
    assert check_json_value(ok) is ok
    with pytest.raises(InputError, match="nested deeper"):
        check_json_value([ok])


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', '{"a": ', "\xff"])
def test_malformed_json_is_its_own_error(text: str) -> None:
    with pytest.raises(MalformedJson):
        parse_json(text.encode("latin-1"))


def test_a_document_too_deep_for_the_parser_is_refused() -> None:
    with pytest.raises(InputError):
        parse_json("[" * 100_000 + "]" * 100_000)


def test_the_limits_import_nothing_from_the_web_or_the_database() -> None:
    # The simulator (which stays pure) may reuse these bounds.
    code = (
        "import sys, app.core.limits; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('app', 'fastapi', 'starlette', 'sqlalchemy', 'sqlmodel')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['app', 'app.core', 'app.core.limits']"
