"""Comparison notes: text that quotes result values as ``{field}`` or ``{field:.3g}``.

A note is a format string, so its format specs are bounded before any run formats one: a
width of 20,000 would make one reference 20 kB of spaces. Only the standard spec grammar is
accepted, with width and precision of at most :data:`MAX_WIDTH` and :data:`MAX_PRECISION`,
and a formatted note is cut at :data:`MAX_FORMATTED_CHARS`.
"""

from __future__ import annotations

import re

MAX_WIDTH = 40
MAX_PRECISION = 20
MAX_REFERENCES = 50  # {field} references in one note
MAX_FORMATTED_CHARS = 8_000

# A reference: a dotted result path, optionally with a format spec.
NOTE_REF = re.compile(r"\{([A-Za-z_][\w.\[\]=\-]*)(?::([^{}]*))?\}")
# [[fill]align][sign][z][#][0][width][grouping][.precision][type] (the format mini-language).
_SPEC = re.compile(
    r"^(?:[^{}]?[<>=^])?[+\- ]?z?#?0?(?P<width>\d+)?[_,]?(?:\.(?P<precision>\d+))?"
    r"[bcdeEfFgGnosxX%]?$"
)


def spec_problem(spec: str) -> str | None:
    """Return why a format spec is refused, or None."""
    m = _SPEC.match(spec)
    if m is None:
        return f"{spec!r} is not a format spec such as .3g, .0f or .1%"
    width, precision = m.group("width"), m.group("precision")
    if width is not None and int(width) > MAX_WIDTH:
        return f"width {int(width)} in {spec!r} exceeds {MAX_WIDTH}"
    if precision is not None and int(precision) > MAX_PRECISION:
        return f"precision {int(precision)} in {spec!r} exceeds {MAX_PRECISION}"
    return None


def note_problem(note: str) -> str | None:
    """Return why a note's references are refused (bad or unbounded format specs), or None."""
    refs = NOTE_REF.findall(note)
    if len(refs) > MAX_REFERENCES:
        return f"{len(refs)} references exceed the limit of {MAX_REFERENCES}"
    for _field, spec in refs:
        if spec:
            problem = spec_problem(spec)
            if problem:
                return problem
    return None
