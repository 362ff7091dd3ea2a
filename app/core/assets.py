"""Static files under content-versioned URLs, which browsers may cache for a year."""

import hashlib
from functools import lru_cache
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"


@lru_cache(maxsize=64)
def _content_hash(relative: str, mtime_ns: int) -> str:
    return hashlib.sha256((STATIC_DIR / relative).read_bytes()).hexdigest()[:12]


def static_version(relative: str) -> str | None:
    """Return the content hash of a file under static/, or None when it is missing."""
    try:
        return _content_hash(relative, (STATIC_DIR / relative).stat().st_mtime_ns)
    except (FileNotFoundError, NotADirectoryError):
        return None


def static_url(relative: str) -> str:
    """Return the URL of a static file, versioned by its content."""
    version = static_version(relative)
    return f"/static/{relative}" + (f"?v={version}" if version else "")
