"""Labels and rules come from the seed folder (LEDGER_SEED_DIR), one source for every reader."""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from app.core.config import seed_folder
from tests.conftest import _reset_caches
from tests.dashboard.test_pages import HTML


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _relabel(entries: list[dict[str, Any]], code: str, label: str) -> None:
    next(e for e in entries if e["code"] == code)["label"] = label


@pytest.fixture
def moved_seed(db_url: str, tmp_path: Path) -> Iterator[Path]:
    """Point LEDGER_SEED_DIR at a copy of the seed folder with some labels changed."""
    folder = tmp_path / "seed"
    shutil.copytree(seed_folder(), folder)
    _edit(folder / "status_levels.yaml", lambda d: _relabel(d, "built", "Standing hardware"))
    _edit(
        folder / "verdict_rules.yaml", lambda d: _relabel(d["verdicts"], "contradicted", "Refuted")
    )
    _edit(
        folder / "verdict_rules.yaml", lambda d: _relabel(d["doubts"], "forum_only", "forum post")
    )
    _edit(folder / "verdict_rules.yaml", lambda d: _relabel(d["origins"], "computed", "Worked out"))
    os.environ["LEDGER_SEED_DIR"] = str(folder)
    _reset_caches()
    yield folder
    del os.environ["LEDGER_SEED_DIR"]
    _reset_caches()


def test_pages_and_api_show_the_labels_of_the_configured_seed_folder(
    moved_seed: Path, client: TestClient
) -> None:
    levels = client.get("/api/v1/status-levels").json()
    assert {level["code"]: level["label"] for level in levels}["built"] == "Standing hardware"
    rules = client.get("/api/v1/verdict-rules").json()
    assert {v["code"]: v["label"] for v in rules["verdicts"]}["contradicted"] == "Refuted"
    method = client.get("/method", headers=HTML).text
    assert "Standing hardware" in method and "Refuted" in method
    assert "worked out" in method  # the casebook's computed items, by their origin's label
    page = client.get("/capabilities/fsd-computer-hw3", headers=HTML).text
    doubts = page[page.index('id="doubt-h"') :]
    doubts = doubts[: doubts.index("</section>")]
    assert '<span class="flag flag-forum-only">forum post</span>' in doubts
    assert "Refuted" in page  # the contradicted claim's verdict
    assert "Standing hardware" in client.get("/", headers=HTML).text
