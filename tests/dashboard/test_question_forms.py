"""Editors manage questions from the dashboard: CSRF, the version guard, refused summaries."""

from fastapi.testclient import TestClient

from tests.dashboard.test_pages import HTML, csrf_of, sign_in

FSD = "fsd-second-chip-redundancy-or-capacity"


def test_forms_need_an_editor_and_csrf(client: TestClient, write_token: str) -> None:
    assert client.get("/questions/new", headers=HTML, follow_redirects=False).status_code in (
        303,
        307,
    )
    sign_in(client, write_token)
    form = client.get("/questions/new", headers=HTML)
    assert form.status_code == 200 and 'name="csrf_token"' in form.text
    forged = client.post("/questions", data={"slug": "x", "csrf_token": "forged"})
    assert forged.status_code == 403


def test_add_a_question_and_see_it_answered_on_the_overview(
    client: TestClient, write_token: str
) -> None:
    sign_in(client, write_token)
    token = csrf_of(client.get("/questions/new", headers=HTML).text)
    data = {
        "slug": "d1-tdp-confirmed",
        "text": "Was the D1's 400 W TDP ever confirmed?",
        "summary": "Not by anyone who measured it.",
        "capabilities": "dojo-d1",
        "sources": "S05",
        "options": '[{"code": "tdp", "label": "The 400 W TDP", "claims": ["d1-tdp-400-w"]}]',
        "csrf_token": token,
    }
    saved = client.post("/questions", data=data, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    overview = client.get("/", headers=HTML).text
    assert "Was the D1&#39;s 400 W TDP ever confirmed?" in overview
    assert 'href="/questions/d1-tdp-confirmed/edit"' in overview


def test_a_contradicting_summary_is_refused_with_the_field_marked(
    client: TestClient, write_token: str
) -> None:
    sign_in(client, write_token)
    form = client.get(f"/questions/{FSD}/edit", headers=HTML).text
    version = int(form.split('name="version" value="')[1].split('"')[0])
    data = {
        "version": str(version),
        "text": "Does the FSD computer's second chip give redundancy or capacity?",
        "summary": "Capacity.",
        "capabilities": "fsd-computer-hw3",
        "sources": "S39",
        "says": "capacity",
        "options": (
            '[{"code": "capacity", "label": "Capacity",'
            ' "claims": ["fsd-hw3-both-socs-for-capacity"]}]'
        ),
        "csrf_token": csrf_of(form),
    }
    refused = client.post(f"/questions/{FSD}", data=data)
    assert refused.status_code == 422
    assert "<title>Error:" in refused.text
    assert 'id="qf-summary"' in refused.text and 'aria-invalid="true"' in refused.text
    assert "says &#39;Capacity&#39;" in refused.text
    # A stale version is not saved either: 409, input kept.
    data.update(summary="Redundancy.", says="", version=str(version - 1))
    stale = client.post(f"/questions/{FSD}", data=data)
    assert stale.status_code == 409 and "Someone else changed" in stale.text
