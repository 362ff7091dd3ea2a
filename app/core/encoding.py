"""Content codings: which a client accepts (q-values honoured), and one ETag per coding.

The gzip and the identity bodies of a resource are different representations, so they carry
different strong ETags (RFC 9110 §8.8.3): the gzip one is the identity one with ``-gzip``
inside the quotes. Preconditions (If-Match, If-None-Match) compare the tag without it, since
both name the same version of the resource.
"""

GZIP_SUFFIX = "-gzip"


def _codings(header: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in header.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        weights[name.lower()] = q
    return weights


def accepts_gzip(header: bytes | str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (``gzip;q=0`` and ``*;q=0`` refuse it)."""
    if not header:
        return False
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    if "gzip" not in text and "*" not in text:
        return False
    weights = _codings(text)
    for name in ("gzip", "x-gzip"):
        if name in weights:
            return weights[name] > 0
    return weights.get("*", 0.0) > 0


def gzip_etag(etag: str) -> str:
    """Return the ETag of the gzip body of the representation tagged ``etag``."""
    if etag.endswith('"') and not etag.endswith(GZIP_SUFFIX + '"'):
        return etag[:-1] + GZIP_SUFFIX + '"'
    return etag


def without_coding(etag: str) -> str:
    """Return the tag a precondition compares: the ETag without its coding suffix."""
    if etag.endswith(GZIP_SUFFIX + '"'):
        return etag[: -len(GZIP_SUFFIX) - 1] + '"'
    return etag


def tag_list(header: str | None) -> list[str]:
    """Return the entity tags of an If-Match / If-None-Match header, coding suffixes removed."""
    if not header:
        return []
    return [without_coding(part.strip()) for part in header.split(",") if part.strip()]


def matching_tag(header: str | None, etag: str) -> str | None:
    """Return the tag of an If-None-Match header that names ``etag`` in either coding."""
    for part in (header or "").split(","):
        if part.strip() and without_coding(part.strip()) == etag:
            return part.strip()
    return None
