"""A reparent onto a hierarchy that already goes round (only a bad import could make one) is
refused: it spun a server thread at 70 % CPU for good, and the server ignored SIGTERM."""

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from app.core.db import get_engine
from tests.capabilities.test_capabilities import auth


def test_a_reparent_onto_a_cycle_is_refused(client: TestClient, write_token: str) -> None:
    with Session(get_engine()) as session:
        ids = dict(
            session.execute(
                text(
                    "SELECT slug, id FROM capability WHERE slug IN ('dojo-training-tile', 'dojo-system-tray')"
                )
            ).all()
        )
        session.execute(
            text("UPDATE capability SET parent_id = :p WHERE id = :c"),
            {"p": ids["dojo-system-tray"], "c": ids["dojo-training-tile"]},
        )
        session.execute(
            text("UPDATE capability SET parent_id = :p WHERE id = :c"),
            {"p": ids["dojo-training-tile"], "c": ids["dojo-system-tray"]},
        )
        session.commit()
    got = client.get("/api/v1/capabilities/tesla-ai5")
    answer: dict[str, Any] = {}

    def reparent() -> None:
        answer["response"] = client.patch(
            "/api/v1/capabilities/tesla-ai5",
            json={"parent": "dojo-training-tile"},
            headers=auth(write_token, got.headers["etag"]),
        )

    worker = threading.Thread(target=reparent, daemon=True)
    worker.start()
    worker.join(timeout=120)  # a liveness bound, not a speed check: the old walk never ended
    assert not worker.is_alive(), "the reparent never returned"
    response = answer["response"]
    assert response.status_code == 422, response.text
    assert "cycle" in response.json()["detail"]
