"""The claimed figures of seed_data/claims.yaml, read once per version of the file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from app.sim.paths import seed_dir


@lru_cache(maxsize=4)
def _read_claims(path: str, mtime: float) -> dict[str, dict[str, Any] | None]:
    data = yaml.safe_load(Path(path).read_text()) or []
    out: dict[str, dict[str, Any] | None] = {}
    for c in data if isinstance(data, list) else []:
        if not isinstance(c, dict) or not c.get("slug"):
            continue
        fig = c.get("figure")
        if isinstance(fig, dict) and fig.get("value") is not None:
            out[str(c["slug"])] = {"value": fig["value"], "unit": str(fig.get("unit") or "")}
        else:
            out[str(c["slug"])] = None
    return out


def claim_figures() -> dict[str, dict[str, Any] | None]:
    """Return {slug: {value, unit} | None} for every claim in seed_data/claims.yaml."""
    path = seed_dir() / "claims.yaml"
    if not path.exists():
        return {}
    return _read_claims(str(path), path.stat().st_mtime)
