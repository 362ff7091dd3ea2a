"""Reason codes: one enum, what a status update may send, and the deprecated legacy codes."""

import ast
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.history.models import REASON_LABELS, ReasonCode, reason_label
from tests.capabilities.test_capabilities import _evidence, _new_capability, auth

APP = Path(__file__).resolve().parents[2] / "app"


def _post_status(
    client: TestClient, token: str, slug: str, body: Mapping[str, object]
) -> httpx.Response:
    etag = client.get(f"/api/v1/capabilities/{slug}").headers["etag"]
    return client.post(f"/api/v1/capabilities/{slug}/status", json=body, headers=auth(token, etag))


def _link_photo(client: TestClient, token: str, reason_code: str) -> httpx.Response:
    """Link a photo of another capability to test-chip, moving it to built."""
    _new_capability(client, token, "test-chip")
    _new_capability(client, token, "test-elsewhere")
    photo = _evidence(client, token, "test-elsewhere").json()["id"]
    body = {"evidence_ids": [photo], "reason_code": reason_code, "reason": "Photo of the chip"}
    return _post_status(client, token, "test-chip", body)


def test_a_chosen_code_is_stored_without_a_deprecation(
    client: TestClient, write_token: str
) -> None:
    response = _link_photo(client, write_token, "correction")
    assert response.status_code == 200, response.text
    assert "deprecation" not in response.headers
    history = client.get("/api/v1/capabilities/test-chip/history").json()["items"]
    assert history[-1]["reason_code"] == "correction"


def test_a_legacy_code_is_stored_as_is_with_a_deprecation(
    client: TestClient, write_token: str
) -> None:
    response = _link_photo(client, write_token, "photo_review")
    assert response.status_code == 200, response.text
    assert response.headers["deprecation"] == "true"
    assert response.headers["warning"].startswith("299 - \"reason_code 'photo_review'")
    history = client.get("/api/v1/capabilities/test-chip/history").json()["items"]
    assert (history[-1]["reason_code"], history[-1]["to_status"]) == ("photo_review", "built")


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("seed", "recorded by the ledger itself"),
        ("rollup", "recorded by the ledger itself"),
        ("override", "goes with a status to override"),
        ("Not a code", "reason_code"),
    ],
)
def test_a_code_a_script_cannot_send_is_refused(
    client: TestClient, write_token: str, code: str, says: str
) -> None:
    response = _link_photo(client, write_token, code)
    assert response.status_code == 422, response.text
    assert says in response.text
    assert client.get("/api/v1/capabilities/test-chip/history").json()["items"] == []


def test_an_override_records_the_override_code_whatever_was_sent(
    client: TestClient, write_token: str
) -> None:
    body = {"status": "built", "reason_code": "editorial_review", "reason": "Seen on stage"}
    assert _post_status(client, write_token, "dojo-exapod", body).status_code == 200
    history = client.get("/api/v1/capabilities/dojo-exapod/history?sort=-recorded_at").json()
    assert history["items"][0]["reason_code"] == "override"


def test_every_code_has_a_label_and_a_legacy_code_reads_as_words() -> None:
    assert set(REASON_LABELS) == set(ReasonCode)
    assert reason_label("rollup") == ReasonCode.rollup.label
    assert reason_label("photo_review") == "photo review"


def _literal_reason_codes(tree: ast.AST) -> list[tuple[int, str]]:
    """Return each string literal given as a reason code (keyword, dict key or comparison)."""
    found = []
    for node in ast.walk(tree):
        values: list[ast.expr] = []
        if isinstance(node, ast.keyword) and node.arg == "reason_code":
            values = [node.value]
        elif isinstance(node, ast.Dict):
            values = [
                v
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and k.value == "reason_code"
            ]
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "reason_code" for s in sides):
                values = sides
        elif isinstance(node, ast.Tuple | ast.List) and any(
            isinstance(e, ast.Constant) and e.value in REASON_VALUES for e in node.elts
        ):
            # A tuple of codes (as `in` compares with) is a literal list of reasons too.
            values = list(node.elts)
        found += [
            (v.lineno, v.value)
            for v in values
            if isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value
        ]
    return found


REASON_VALUES = {code.value for code in ReasonCode} - {"edited", "created", "seed"}


def test_no_reason_code_is_a_string_literal_in_the_app() -> None:
    """Every code the app writes or compares is a ReasonCode member, never a literal."""
    literals = [
        f"{path.relative_to(APP.parent)}:{line}: {value!r}"
        for path in sorted(APP.rglob("*.py"))
        for line, value in _literal_reason_codes(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert literals == []


def test_the_walk_finds_a_literal_code() -> None:
    """The walk above would see a literal that reappears, in each form it checks."""
    source = (
        'StatusWrite(session, reason_code="claim_added")\n'
        'body = {"reason_code": "override"}\n'
        'ok = row.reason_code == "override"\n'
        'CODES = ("override", "override_cleared")\n'
    )
    assert sorted(v for _, v in _literal_reason_codes(ast.parse(source))) == [
        "claim_added", "override", "override", "override", "override_cleared"
    ]  # fmt: skip
