"""Dojo beside its contemporaries (`/compare`): the same workloads on three systems, every
input cited by outlet, title and date, linked from the ExaPOD, D1 and GPU-cluster pages."""

import html
import re

from fastapi.testclient import TestClient

from app.benchmarks import contemporaries

HTML = {"accept": "text/html"}


def test_compare_page_sets_the_three_systems_side_by_side(client: TestClient) -> None:
    response = client.get("/compare", headers=HTML)
    assert response.status_code == 200, response.text[:500]
    text = html.unescape(response.text)
    for system in contemporaries.SYSTEMS:
        assert system.name in text
    rows = contemporaries.comparison()["rows"]
    assert [r["system"].key for r in rows] == ["exapod", "a100", "h100"]
    for r in rows:
        llm, vision = r["llm"], r["vision"]
        assert 0 < llm["sustained_pflops"] < r["peak_pflops"]
        assert llm["per_chip_tflops"] * r["chips"] / 1e3 == llm["sustained_pflops"]
        assert vision["first"]["chips"] < vision["last"]["chips"]
        assert vision["first"]["efficiency"] == 1.0
        assert 0 < vision["last"]["efficiency"] <= 1.0
        assert f"{r['power_mw']:.3g}"[:3] in text.replace(",", "")
    # Documented power: 600 W per D1 (15 kW tile / 25), 6.5 kW per DGX A100, 10.2 kW per DGX H100.
    mw = {r["system"].key: r["power_mw"] for r in rows}
    assert round(mw["exapod"], 3) == 1.8
    assert round(mw["a100"], 3) == 4.68
    assert round(mw["h100"], 3) == 12.75


def test_every_input_is_cited_by_outlet_title_and_date(client: TestClient) -> None:
    text = html.unescape(client.get("/compare", headers=HTML).text)
    from sqlmodel import Session

    from app.core.db import get_engine
    from app.sources import service as sources_service

    with Session(get_engine()) as session:
        sources = sources_service.by_keys(session, contemporaries.source_keys())
    assert set(sources) == set(contemporaries.source_keys())
    for source in sources.values():
        assert source.citation in text
    inputs = [i for s in contemporaries.SYSTEMS for i in s.inputs]
    inputs += list(contemporaries.WORKLOAD_INPUTS)
    for i in inputs:
        assert (i.source_key is None) != (i.document is None)
        if i.document is not None:
            assert i.document.citation in text
    main = text.split("<main", 1)[-1]
    assert not re.search(r"\bS\d{2,3}\b", main), "a page cites by outlet, never by key"


def test_the_comparison_is_linked_from_the_exapod_d1_and_gpu_cluster_pages(
    client: TestClient,
) -> None:
    for slug in ("dojo-exapod", "dojo-d1", "tesla-gpu-cluster"):
        assert 'href="/compare"' in client.get(f"/capabilities/{slug}", headers=HTML).text
    assert 'href="/compare"' not in client.get("/capabilities/fsd-computer-hw3", headers=HTML).text
