"""Small helpers that read spec fields and raise :class:`SpecError` naming the field."""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from app.sim.errors import SpecError


class SpecLoader(yaml.SafeLoader):
    """YAML loader that reads ``1e9`` and ``1.0e9`` as numbers (YAML 1.2), not as text."""


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text with :class:`SpecLoader`; raises yaml.YAMLError."""
    return yaml.load(text, Loader=SpecLoader)


_MISSING = object()


def section(spec: dict[str, Any], key: str, path: str = "") -> dict[str, Any]:
    """Return a sub-mapping (empty if absent)."""
    val = spec.get(key)
    if val is None:
        return {}
    if not isinstance(val, dict):
        raise SpecError(f"{path}{key}", "must be a mapping")
    return val


def num(
    d: dict[str, Any],
    key: str,
    path: str,
    default: Any = _MISSING,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """Return a finite number from ``d[key]`` with type and range checks."""
    val = d.get(key)
    if val is None:
        if default is _MISSING:
            raise SpecError(f"{path}{key}", "is required")
        return default
    if type(val) is not int:  # the common case (a checked spec) skips the conversions
        val = _as_number(val, f"{path}{key}", integer)
    if minimum is not None and val < minimum:
        raise SpecError(f"{path}{key}", f"must be >= {minimum}, got {val!r}")
    if maximum is not None and val > maximum:
        raise SpecError(f"{path}{key}", f"must be <= {maximum}, got {val!r}")
    return val


def _as_number(val: Any, field: str, integer: bool) -> Any:
    if isinstance(val, str):
        # YAML 1.1 reads "1.0e9" (no exponent sign) as a string; accept numeric text.
        try:
            val = float(val)
        except ValueError:
            raise SpecError(field, f"must be a number, got {val!r}") from None
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise SpecError(field, f"must be a number, got {val!r}")
    if not math.isfinite(val):
        raise SpecError(field, f"must be a finite number, got {val!r}")
    if integer:
        if float(val) != int(val):
            raise SpecError(field, f"must be an integer, got {val!r}")
        val = int(val)
    return val


def choice(d: dict[str, Any], key: str, path: str, options: tuple[str, ...], default: str) -> str:
    """Return one of ``options`` from ``d[key]``."""
    val = d.get(key)
    if val is None:
        val = default
    elif type(val) is str and val in options:
        return val
    if str(val) not in options:
        raise SpecError(f"{path}{key}", f"must be one of {', '.join(options)}, got {val!r}")
    return str(val)


def flag(d: dict[str, Any], key: str, path: str, default: bool = False) -> bool:
    """Return a boolean from ``d[key]``."""
    val = d.get(key, default)
    if val is None:
        return default
    if not isinstance(val, bool):
        raise SpecError(f"{path}{key}", f"must be true or false, got {val!r}")
    return val
