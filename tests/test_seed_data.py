"""Integrity checks for the sourced seed data in ``seed_data/``.

Plain PyYAML only: no application imports, so these run before (and independently of) the app.
The formats are those of docs/CONTRACTS.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

SEED = Path(__file__).resolve().parent.parent / "seed_data"

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
URL_RE = re.compile(r"^https?://\S+$")

GRADES = {"P", "S", "F", "D"}
EVENT_KINDS = {"presentation", "conference", "earnings_call", "report", "news", "social_post"}
CAPABILITY_KINDS = {
    "chip",
    "node",
    "tile",
    "tray",
    "cabinet",
    "system",
    "interface_processor",
    "computer",
    "cluster",
}
OUTCOMES = {"active", "abandoned", "superseded"}
LEVELS = ["not_assessed", "aspirational", "built", "tested", "benchmarked"]
CLAIM_LEVELS = set(LEVELS[1:])
EVIDENCE_KINDS = {
    "photo",
    "live_demo",
    "slide",
    "paper",
    "earnings_call",
    "third_party_report",
    "benchmark_result",
    "analytical_check",
    "simulation_run",
}
NON_RAISING_KINDS = {"analytical_check", "simulation_run"}
PROVENANCES = {
    "vendor_statement",
    "vendor_demo",
    "vendor_paper",
    "third_party",
    "independent_measurement",
    "simulation",
}
STANCES = {"supports", "contradicts", "inconclusive", "not_found"}

CONTRACTS = Path(__file__).resolve().parent.parent / "docs" / "CONTRACTS.md"


def _contract_claim_slugs() -> list[str]:
    """The claim slugs listed in docs/CONTRACTS.md under "Claim slugs other code depends on"."""
    text = CONTRACTS.read_text(encoding="utf-8")
    section = text.split("### Claim slugs other code depends on", 1)[1].split("\n#", 1)[0]
    section = re.sub(r"\([^)]*\)", "", section)  # drop "(grade F)" remarks
    return re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", section)


FORUM_CLAIMS = {
    "fsd-hw3-both-socs-for-capacity",
    "d1-benchtop-small-gpt",
    "d1-off-chip-bandwidth-4x4-tbps",
}

REQUIRED_CAPABILITIES = {
    # slug: (parent, kind, critical)
    "dojo-exapod": (None, "system", True),
    "dojo-cabinet": ("dojo-exapod", "cabinet", True),
    "dojo-system-tray": ("dojo-cabinet", "tray", True),
    "dojo-training-tile": ("dojo-system-tray", "tile", True),
    "dojo-d1": ("dojo-training-tile", "chip", True),
    "dojo-training-node": ("dojo-d1", "node", True),
    "dojo-interface-processor": ("dojo-system-tray", "interface_processor", False),
    "fsd-computer-hw3": (None, "computer", True),
    "tesla-gpu-cluster": (None, "cluster", True),
}


def _load(name: str) -> list[dict]:
    data = yaml.safe_load((SEED / name).read_text(encoding="utf-8"))
    assert isinstance(data, list), f"{name} must be a YAML list"
    assert all(isinstance(x, dict) for x in data), f"{name} must be a list of mappings"
    return data


def _iso(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    assert isinstance(value, str) and DATE_RE.match(value), f"not an ISO date: {value!r}"
    dt.date.fromisoformat(value)
    return value


@pytest.fixture(scope="module")
def sources() -> dict[str, dict]:
    return {s["key"]: s for s in _load("sources.yaml")}


@pytest.fixture(scope="module")
def levels() -> list[dict]:
    return _load("status_levels.yaml")


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return _load("events.yaml")


@pytest.fixture(scope="module")
def capabilities() -> list[dict]:
    return _load("capabilities.yaml")


@pytest.fixture(scope="module")
def claims() -> list[dict]:
    return _load("claims.yaml")


@pytest.fixture(scope="module")
def evidence() -> list[dict]:
    return _load("evidence.yaml")


def _no_dupes(items: list[dict], key: str) -> None:
    dupes = [k for k, n in Counter(x[key] for x in items).items() if n > 1]
    assert not dupes, f"duplicate {key}: {dupes}"


# ---------------------------------------------------------------- sources


def test_sources_cover_the_fact_sheet_index(sources):
    expected = {f"S{i:02d}" for i in range(1, 102)} | {"S02b", "S21b"}
    assert set(sources) == expected
    _no_dupes(_load("sources.yaml"), "key")


def test_sources_fields(sources):
    for key, s in sources.items():
        assert s["grade"] in GRADES, key
        assert s.get("title"), key
        if s.get("url") is not None:
            assert URL_RE.match(s["url"]), key
        else:
            # only the two copies whose location the fact sheet did not record
            assert key in {"S20", "S21b"}, f"{key} has no url"
            assert s.get("note"), key
        if "date" in s:
            _iso(s["date"])
    assert sources["S60"]["grade"] == "P" and "P/S" in sources["S60"]["note"]
    assert {k for k, s in sources.items() if s["grade"] == "F"} == {"S11", "S12", "S88"}


# ---------------------------------------------------------------- status levels


def test_status_levels_ladder(levels):
    assert [lv["code"] for lv in levels] == LEVELS
    assert [lv["rank"] for lv in levels] == [0, 1, 2, 3, 4]
    for lv in levels:
        assert lv["label"] and lv["description"] and lv["exit_criteria"], lv["code"]
        assert set(lv["accepted_evidence_kinds"]) <= EVIDENCE_KINDS, lv["code"]
        assert not set(lv["accepted_evidence_kinds"]) & NON_RAISING_KINDS, lv["code"]
        assert lv["accepted_grades"] == ["P", "S"], lv["code"]
    by = {lv["code"]: set(lv["accepted_evidence_kinds"]) for lv in levels}
    assert by["benchmarked"] == {"benchmark_result"}
    assert {"photo", "live_demo", "paper", "third_party_report", "earnings_call"} <= by["built"]
    assert {"live_demo", "paper", "third_party_report", "earnings_call"} <= by["tested"]
    assert "slide" not in by["built"] | by["tested"]


# ---------------------------------------------------------------- events


def test_events(events):
    _no_dupes(events, "slug")
    for e in events:
        assert SLUG_RE.match(e["slug"]), e["slug"]
        assert e["kind"] in EVENT_KINDS, e["slug"]
        _iso(e["date"])
        assert e["name"] and e["venue"] and e["description"], e["slug"]
        assert URL_RE.match(e["url"]), e["slug"]
    dates = {e["slug"]: _iso(e["date"]) for e in events}
    assert dates["autonomy-day-2019"] == "2019-04-22"
    assert dates["ai-day-2021"] == "2021-08-19"
    assert dates["ai-day-2022"] == "2022-09-30"
    assert dates["q2-2023-update-letter"] == "2023-07-19"
    assert dates["dojo3-restart-2026-01"] == "2026-01-18"
    assert any(d.startswith("2025-08") for d in dates.values())


# ---------------------------------------------------------------- capabilities


def test_capabilities(capabilities):
    _no_dupes(capabilities, "slug")
    by = {c["slug"]: c for c in capabilities}
    for slug, (parent, kind, critical) in REQUIRED_CAPABILITIES.items():
        assert slug in by, slug
        assert by[slug]["parent"] == parent, slug
        assert by[slug]["kind"] == kind, slug
        assert by[slug]["critical"] is critical, slug
    for c in capabilities:
        assert SLUG_RE.match(c["slug"]), c["slug"]
        assert c["kind"] in CAPABILITY_KINDS, c["slug"]
        assert c["parent"] is None or c["parent"] in by, c["slug"]
        assert isinstance(c["critical"], bool), c["slug"]
        assert c["description"], c["slug"]
        assert c["outcome"] in OUTCOMES, c["slug"]
        if c["outcome"] != "active":
            _iso(c["outcome_date"])
            assert c.get("outcome_note"), c["slug"]
    # hierarchy is acyclic
    for slug in by:
        seen, cur = set(), slug
        while cur is not None:
            assert cur not in seen, f"cycle at {slug}"
            seen.add(cur)
            cur = by[cur]["parent"]
    assert by["dojo-exapod"]["outcome"] == "abandoned"
    assert by["dojo-exapod"]["outcome_date"].startswith("2025-08")


# ---------------------------------------------------------------- claims


def test_required_claims_exist(claims):
    required = _contract_claim_slugs()
    assert len(required) >= 38, required
    slugs = {c["slug"] for c in claims}
    missing = [s for s in required if s not in slugs]
    assert not missing, missing


def test_claims_fields_and_references(claims, capabilities, events, sources):
    _no_dupes(claims, "slug")
    caps = {c["slug"] for c in capabilities}
    evs = {e["slug"]: _iso(e["date"]) for e in events}
    by = {c["slug"]: c for c in claims}
    for c in claims:
        s = c["slug"]
        assert SLUG_RE.match(s), s
        assert c["capability"] in caps, s
        assert c["event"] in evs, s
        assert c["source"] in sources, s
        assert c["text"], s
        assert c["implied_status"] in CLAIM_LEVELS, s
        stated = _iso(c["stated_on"])
        assert stated == evs[c["event"]], f"{s}: stated_on differs from its event date"
        url = c.get("url") or sources[c["source"]]["url"]
        assert url and URL_RE.match(url), s
        assert (c.get("grade") or sources[c["source"]]["grade"]) in GRADES, s
        if "deadline" in c:
            _iso(c["deadline"])
        if "video_offset_s" in c:
            assert isinstance(c["video_offset_s"], int) and c["video_offset_s"] >= 0, s
        if "restates" in c:
            r = c["restates"]
            assert r in by and r != s, s
            assert _iso(by[r]["stated_on"]) <= stated, f"{s} restates a later claim"
        if "figure" in c:
            f = c["figure"]
            assert f["metric"] and f["unit"], s
            assert isinstance(f["value"], int | float) and not isinstance(f["value"], bool), s


def test_claim_counts(claims):
    assert len(claims) >= 60
    assert sum(1 for c in claims if "figure" in c) >= 60


def test_forum_claims_are_grade_f(claims, sources):
    by = {c["slug"]: c for c in claims}
    for s in FORUM_CLAIMS:
        assert (by[s].get("grade") or sources[by[s]["source"]]["grade"]) == "F", s
    assert by["d1-off-chip-bandwidth-4x4-tbps"]["source"] == "S11"


def test_key_figures(claims):
    by = {c["slug"]: c for c in claims}

    def val(slug):
        return by[slug]["figure"]["value"]

    assert val("d1-peak-bf16-362-tflops") == 362
    assert val("d1-training-nodes-354") == 354
    assert val("exapod-peak-1-1-eflops") == 1.1
    assert val("exapod-d1-count-3000") == 3000
    assert val("gpu-cluster-5760-a100") == 5760
    assert by["exapod-q1-2023-deployment"]["deadline"] == "2023-03-31"
    assert by["exapod-peak-1-1-eflops"]["implied_status"] == "aspirational"
    assert by["tile-lab-2-ghz"]["implied_status"] == "tested"
    restated = {c.get("restates") for c in claims}
    assert {"exapod-peak-1-1-eflops", "d1-peak-bf16-362-tflops"} <= restated


# ---------------------------------------------------------------- evidence


def test_evidence_fields_and_references(evidence, claims, capabilities, sources, levels):
    _no_dupes(evidence, "slug")
    caps = {c["slug"] for c in capabilities}
    cl = {c["slug"]: c for c in claims}
    accepted = {lv["code"]: set(lv["accepted_evidence_kinds"]) for lv in levels}
    for e in evidence:
        s = e["slug"]
        assert SLUG_RE.match(s), s
        assert e["capability"] in caps, s
        if e.get("claim") is not None:
            assert e["claim"] in cl, s
            assert cl[e["claim"]]["capability"] == e["capability"], s
        assert e["title"] and e["summary"], s
        assert e["kind"] in EVIDENCE_KINDS, s
        assert e["provenance"] in PROVENANCES, s
        assert e["source"] in sources, s
        url = e.get("url") or sources[e["source"]]["url"]
        assert url and URL_RE.match(url), s
        if e.get("archived_url"):
            assert URL_RE.match(e["archived_url"]), s
        assert (e.get("grade") or sources[e["source"]]["grade"]) in GRADES, s
        _iso(e["date"])
        assert e["stance"] in STANCES, s
        if e["stance"] == "inconclusive":
            assert e.get("assumption"), f"{s}: an inconclusive item names its assumption"
        if e["stance"] != "supports":
            assert "level" not in e, s
            assert e.get("claim"), f"{s}: a {e['stance']} item must name the claim it bears on"
        elif e["kind"] in NON_RAISING_KINDS:
            assert "level" not in e, f"{s}: {e['kind']} never raises a level"
        else:
            assert e.get("level") in CLAIM_LEVELS, s
            assert e["kind"] in accepted[e["level"]], (
                f"{s}: {e['kind']} cannot establish {e['level']}"
            )


def test_evidence_counts_and_coverage(evidence, sources):
    assert len(evidence) >= 60
    years = {_iso(e["date"])[:4] for e in evidence}
    assert {"2021", "2022", "2023", "2024", "2025", "2026"} <= years

    def grade(e):
        return e.get("grade") or sources[e["source"]]["grade"]

    forum = [e for e in evidence if grade(e) == "F"]
    assert {e.get("claim") for e in forum} >= {
        "d1-benchtop-small-gpt",
        "fsd-hw3-both-socs-for-capacity",
    }
    assert all(grade(e) == "D" for e in evidence if e["kind"] == "analytical_check")
    assert any(
        e["stance"] == "contradicts" and e.get("claim") == "exapod-q1-2023-deployment"
        for e in evidence
    )
    assert any(e["kind"] == "benchmark_result" for e in evidence)


def test_every_capability_has_claims_and_evidence(capabilities, claims, evidence):
    for c in capabilities:
        assert any(x["capability"] == c["slug"] for x in claims), c["slug"]
        assert any(x["capability"] == c["slug"] for x in evidence), c["slug"]


def test_missed_deadlines_have_no_supporting_evidence(evidence, sources):
    """Evidence that merely records a promise must not be linked to it as support.

    The engine treats P/S-grade support of a deadline claim as fulfilment, so a missed target
    would stop showing as overdue.
    """
    missed = {
        "exapod-q1-2023-deployment",
        "exapod-seven-palo-alto-q1-2023",
        "dojo-100-ef-by-oct-2024",
        "dojo-8k-h100-equivalent-end-2024",
        "dojo-phase-in-fewer-gpus",
    }
    for e in evidence:
        if e.get("claim") in missed and e["stance"] == "supports":
            assert (e.get("grade") or sources[e["source"]]["grade"]) not in {"P", "S"}, e["slug"]
    # Missed: contradicted by a later fact, or searched for and not found (silence keeps it overdue).
    checked = {e.get("claim") for e in evidence if e["stance"] in ("contradicts", "not_found")}
    assert missed <= checked
