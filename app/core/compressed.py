"""A JSON column that stores large documents gzip-compressed, transparently.

A document whose JSON is at least ``LEDGER_RUN_RESULT_COMPRESS_BYTES`` long is stored as
``{"$gzip": "<base64 of the gzipped JSON>"}``; reading the column gives the document back, so
no caller (API, pages, export) sees the difference. Results of sweeps and scaling runs compress
about tenfold.
"""

import base64
import gzip
from typing import Any

import orjson
from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from app.core.config import get_settings

MARKER = "$gzip"


def pack(value: Any, threshold: int) -> Any:
    """Return what is stored for ``value``: itself, or its compressed envelope."""
    if not isinstance(value, dict):
        return value
    raw = orjson.dumps(value)
    if len(raw) < threshold:
        return value
    return {MARKER: base64.b64encode(gzip.compress(raw, 6, mtime=0)).decode("ascii")}


def unpack(value: Any) -> Any:
    """Return the document a stored value holds."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(MARKER), str):
        return orjson.loads(gzip.decompress(base64.b64decode(value[MARKER])))
    return value


def is_packed(value: Any) -> bool:
    """Whether a stored value is a compressed envelope."""
    return isinstance(value, dict) and len(value) == 1 and MARKER in value


class CompressedJSON(TypeDecorator[Any]):
    """JSON, compressed when large (see the module's docstring)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return pack(value, get_settings().run_result_compress_bytes)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return unpack(value)
