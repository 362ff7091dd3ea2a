"""`ledger data check`: the real seed passes, and each rule catches a broken copy at its line."""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import cli
from app.seed.check import check, date_span

SEED = Path(__file__).resolve().parents[2] / "seed_data"


@pytest.fixture(scope="module")
def files() -> dict[str, list[dict]]:
    names = ("sources", "status_levels", "events", "capabilities", "claims", "evidence")
    return {
        n: yaml.load((SEED / f"{n}.yaml").read_text(encoding="utf-8"), yaml.CSafeLoader)
        for n in names
    }


def _write(folder: Path, data: dict[str, list[dict]]) -> None:
    for name, items in data.items():
        text = yaml.dump(items, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True)
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def _item(data: dict[str, list[dict]], name: str, slug: str) -> dict:
    key = "key" if name == "sources" else "slug"
    return next(x for x in data[name] if x[key] == slug)


def _line_of(folder: Path, name: str, needle: str) -> int:
    lines = (folder / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_the_real_seed_passes():
    assert check(SEED) == []


def test_cli_exits_zero_on_the_real_seed():
    result = CliRunner().invoke(cli, ["data", "check", "--seed-dir", str(SEED)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_cli_exits_non_zero_with_file_and_line(tmp_path: Path, files):
    data = {k: [dict(x) for x in v] for k, v in files.items()}
    _item(data, "claims", "d1-tdp-400-w")["capability"] = "no-such-chip"
    _write(tmp_path, data)
    result = CliRunner().invoke(cli, ["data", "check", "--seed-dir", str(tmp_path)])
    assert result.exit_code == 1
    line = _line_of(tmp_path, "claims", "capability: no-such-chip")
    assert f"claims.yaml:{line}: d1-tdp-400-w: capability 'no-such-chip'" in result.output


Breaker = Callable[[dict[str, list[dict]]], None]


def _set(file: str, slug: str, /, **changes: object) -> Breaker:
    def breaker(data: dict[str, list[dict]]) -> None:
        item = _item(data, file, slug)
        for key, value in changes.items():
            if value is None:
                item.pop(key, None)
            else:
                item[key] = value

    return breaker


def _duplicate(name: str, index: int) -> Breaker:
    def breaker(data: dict[str, list[dict]]) -> None:
        data[name].append(dict(data[name][index]))

    return breaker


# (rule, file, breaker, words expected in the message, the text on the reported line)
CASES: list[tuple[str, str, Breaker, str, str]] = [
    (
        "unknown field",
        "claims",
        _set("claims", "d1-tdp-400-w", colour="red"),
        "colour: Extra inputs",
        "colour: red",
    ),
    (
        "missing field",
        "sources",
        _set("sources", "S01", outlet=None),
        "outlet: Field required",
        "key: S01",
    ),
    (
        "bounded text",
        "events",
        _set("events", "ai-day-2021", name="x" * 301),
        "name: String should have at most 300",
        "name: x",
    ),
    (
        "bad slug",
        "capabilities",
        _set("capabilities", "dojo-3", slug="Dojo 3"),
        "slug: String should match",
        "slug: Dojo 3",
    ),
    (
        "figure is a number",
        "claims",
        _set("claims", "d1-tdp-400-w", figure={"metric": "tdp", "value": "400", "unit": "W"}),
        "must be a JSON number",
        "figure:",
    ),
    (
        "duplicate slug",
        "evidence",
        _duplicate("evidence", 0),
        "duplicate slug",
        "slug: ai-day-2021-d1-spec-slides",
    ),
    (
        "unknown source key",
        "evidence",
        _set("evidence", "cfloat-whitepaper", source="S999"),
        "source 'S999' is not a known",
        "source: S999",
    ),
    (
        "unknown event",
        "claims",
        _set("claims", "d1-tdp-400-w", event="ai-day-2030"),
        "event 'ai-day-2030'",
        "event: ai-day-2030",
    ),
    (
        "unknown claim",
        "evidence",
        _set("evidence", "cfloat-whitepaper", claim="no-such-claim"),
        "claim 'no-such-claim'",
        "claim: no-such-claim",
    ),
    (
        "unknown restated claim",
        "claims",
        _set("claims", "d1-sram-440-mb", restates="no-such-claim"),
        "restates 'no-such-claim'",
        "restates: no-such-claim",
    ),
    (
        "unknown parent",
        "capabilities",
        _set("capabilities", "dojo-d1", parent="no-such-tile"),
        "parent 'no-such-tile'",
        "parent: no-such-tile",
    ),
    (
        "parent cycle",
        "capabilities",
        _set("capabilities", "dojo-exapod", parent="dojo-d1"),
        "parent chain loops",
        "parent: dojo-d1",
    ),
    (
        "grade",
        "evidence",
        _set("evidence", "cfloat-whitepaper", grade="A"),
        "grade: Input should be",
        "grade: A",
    ),
    (
        "stance",
        "evidence",
        _set("evidence", "cfloat-whitepaper", stance="maybe"),
        "stance: Input should be",
        "stance: maybe",
    ),
    (
        "inconclusive needs its assumption",
        "evidence",
        _set("evidence", "check-c31-exapod-4x-same-cost", assumption=None),
        "must name its assumption",
        "stance: inconclusive",
    ),
    (
        "assumption only when inconclusive",
        "evidence",
        _set("evidence", "cfloat-whitepaper", assumption="if read generously"),
        "only an inconclusive item",
        "assumption: if read generously",
    ),
    (
        "an assumption reads after 'holds only if'",
        "evidence",
        _set(
            "evidence",
            "check-c42-10-tbps-two-scopes",
            assumption="Both figures hold only if they measure different things.",
        ),
        "follows 'holds only if'",
        "assumption: Both figures hold only if",
    ),
    (
        "not_found supports no level",
        "evidence",
        _set("evidence", "cfloat-whitepaper", stance="not_found"),
        "supports no level",
        "level: aspirational",
    ),
    (
        "ladder kind",
        "evidence",
        _set("evidence", "cfloat-whitepaper", kind="slide", level="tested"),
        "slide cannot establish 'tested'",
        "kind: slide",
    ),
    (
        "analytical checks raise nothing",
        "evidence",
        _set("evidence", "check-c1-d1-peak", level="built"),
        "never raises a level",
        "level: built",
    ),
    (
        "month precision is the 1st",
        "evidence",
        _set("evidence", "cfloat-whitepaper", date_precision="month"),
        "must be the 1st",
        "date: '2021-10-12'",
    ),
    (
        "year precision is 1 January",
        "events",
        _set("events", "ai-day-2022", date_precision="year"),
        "must be 1 January",
        "date: '2022-09-30'",
    ),
    (
        "unknown precision",
        "sources",
        _set("sources", "S01", date_precision="week"),
        "date_precision: Input should be",
        "date_precision: week",
    ),
    (
        "claim dated as its event",
        "claims",
        _set("claims", "d1-tdp-400-w", stated_on="2021-08-20"),
        "differs from the date of its event",
        "stated_on: '2021-08-20'",
    ),
    (
        "evidence before its claim",
        "evidence",
        _set("evidence", "cfloat-whitepaper", date="2021-10-01"),
        "dated before the claim",
        "date: '2021-10-01'",
    ),
    (
        "restating a later claim",
        "claims",
        _set("claims", "d1-peak-bf16-362-tflops", restates="d1-peak-362-tflops-ieee-micro"),
        "restates a later claim",
        "restates: d1-peak-362-tflops-ieee-micro",
    ),
    (
        "malformed url",
        "events",
        _set("events", "ai-day-2021", url="https://localhost/x"),
        "not a well-formed",
        "url: https://localhost/x",
    ),
    (
        "url pattern",
        "evidence",
        _set("evidence", "cfloat-whitepaper", url="ftp://example.com/a"),
        "url: String should match",
        "url: ftp://example.com/a",
    ),
    (
        "internal text",
        "claims",
        _set("claims", "d1-tdp-400-w", text="D1 TDP of 400 W (S05, fact sheet §1)."),
        "internal reference",
        "text: D1 TDP",
    ),
    (
        "a fact-sheet check number in reader text",
        "evidence",
        _set("evidence", "wikichip-36-w-tdp", summary="36 W TDP (facts C39)."),
        "internal reference 'facts C3'",
        "summary: 36 W TDP",
    ),
    (
        "a bare check number in reader text",
        "evidence",
        _set("evidence", "cfloat-whitepaper", title="Whitepaper (C30 holds)"),
        "internal reference 'C30'",
        "title: Whitepaper",
    ),
    (
        "a source key in a claimant",
        "claims",
        _set("claims", "d1-tdp-400-w", claimant="Tesla (S01)"),
        "internal reference 'S01'",
        "claimant: Tesla",
    ),
    (
        "every claim names its claimant",
        "claims",
        _set("claims", "d1-tdp-400-w", claimant=None),
        "claimant: Field required",
        "slug: d1-tdp-400-w",
    ),
    (
        "claimant kind",
        "claims",
        _set("claims", "d1-tdp-400-w", claimant_kind="blogger"),
        "claimant_kind: Input should be",
        "claimant_kind: blogger",
    ),
    (
        "every item has an origin",
        "evidence",
        _set("evidence", "cfloat-whitepaper", origin=None),
        "origin: Field required",
        "slug: cfloat-whitepaper",
    ),
    (
        "own arithmetic is computed",
        "evidence",
        _set("evidence", "check-c1-d1-peak", origin="independent"),
        "origin 'computed'",
        "origin: independent",
    ),
    (
        "only own arithmetic is computed",
        "evidence",
        _set("evidence", "cfloat-whitepaper", origin="computed"),
        "a computed item is an analytical check",
        "origin: computed",
    ),
    (
        "an outlet that says it is a copy",
        "sources",
        _set("sources", "S67", outlet="Tom's Hardware (copy on The Outpost)"),
        "outlet says the source is a 'copy'",
        "outlet: Tom's Hardware (copy on The Outpost)",
    ),
    (
        "a source linked to a mirror site",
        "sources",
        _set(
            "sources", "S08", url="https://vuink.com/post/crefcrpgvirf-d-dziqveban-d-dpbz/2021/08/x"
        ),
        "vuink.com, a site that copies other outlets",
        "url: https://vuink.com/",
    ),
    (
        "an item linked to a mirror site",
        "evidence",
        _set("evidence", "cfloat-whitepaper", url="https://www.sipoch.com/en/article/1"),
        "sipoch.com, a site that copies other outlets",
        "url: https://www.sipoch.com/",
    ),
    (
        "a partial delivery names its claim",
        "evidence",
        _set("evidence", "tsmc-d1-order-doubled", stance="partial", level=None),
        "a 'partial' item must name the claim",
        "stance: partial",
    ),
]


@pytest.mark.parametrize(
    ("rule", "name", "breaker", "words", "marker"), CASES, ids=[c[0] for c in CASES]
)
def test_each_rule_fails_a_broken_copy_at_its_line(
    tmp_path: Path, files, rule: str, name: str, breaker: Breaker, words: str, marker: str
):
    data = {k: [dict(x) for x in v] for k, v in files.items()}
    breaker(data)
    _write(tmp_path, data)
    problems = check(tmp_path)
    matching = [p for p in problems if p.file == f"{name}.yaml" and words in p.message]
    assert matching, f"{rule}: {[str(p) for p in problems]}"
    lines = (tmp_path / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    assert any(marker in lines[p.line - 1] for p in matching), (rule, [str(p) for p in matching])


def test_evidence_may_predate_a_restatement_but_not_the_first_statement(tmp_path: Path, files):
    data = {k: [dict(x) for x in v] for k, v in files.items()}
    # The IEEE Micro claim (May 2023) restates the AI Day 2021 one; 2022 evidence is fine.
    _set("evidence", "ieee-micro-2023-d1-specs", date="2022-01-05", date_precision=None)(data)
    _write(tmp_path, data)
    assert not [p for p in check(tmp_path) if "dated before" in p.message]


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path):
    shutil.copytree(SEED, tmp_path / "seed", dirs_exist_ok=True)
    path = tmp_path / "seed" / "events.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "- slug: [unclosed\n", encoding="utf-8")
    problems = check(tmp_path / "seed")
    assert any(p.file == "events.yaml" and "not valid YAML" in p.message for p in problems)


def test_duplicate_field_in_one_entry(tmp_path: Path):
    shutil.copytree(SEED, tmp_path / "seed", dirs_exist_ok=True)
    path = tmp_path / "seed" / "sources.yaml"
    text = path.read_text(encoding="utf-8").replace("- key: S01\n", "- key: S01\n  grade: P\n", 1)
    path.write_text(text, encoding="utf-8")
    assert any("field 'grade' appears 2 times" in p.message for p in check(tmp_path / "seed"))


def test_date_spans():
    import datetime as dt

    assert date_span("2021-12-01", "month") == (dt.date(2021, 12, 1), dt.date(2021, 12, 31))
    assert date_span("2024-02-01", "month") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert date_span("2022-01-01", "year") == (dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    assert date_span("2021-08-19", "day") == (dt.date(2021, 8, 19), dt.date(2021, 8, 19))


def _with_questions(tmp_path: Path, files, change: Callable[[dict], None]) -> list[dict]:
    data = {k: [dict(x) for x in v] for k, v in files.items()}
    questions = yaml.load((SEED / "questions.yaml").read_text(encoding="utf-8"), yaml.CSafeLoader)
    data["questions"] = questions
    change(data)
    _write(tmp_path, data)
    return questions


def test_a_summary_saying_an_option_whose_claims_are_unverified_is_refused(tmp_path: Path, files):
    """The issue's example: "redundancy" while the linked redundancy claims are unverified."""

    def unverify_redundancy(data: dict) -> None:
        redundancy = {"fsd-hw3-dual-redundancy", "fsd-hw3-dual-redundant-socs-autonomy-day"}
        data["evidence"] = [e for e in data["evidence"] if e.get("claim") not in redundancy]

    _with_questions(tmp_path, files, unverify_redundancy)
    problems = [p for p in check(tmp_path) if p.file == "questions.yaml"]
    assert problems, "a summary the answer contradicts must be refused"
    assert "says 'Redundancy" in problems[0].message and "open" in problems[0].message
    line = _line_of(tmp_path, "questions", "summary: Redundancy")
    assert problems[0].line == line


def test_a_summary_denying_an_option_that_holds_is_refused(tmp_path: Path, files):
    def deny_the_tile(data: dict) -> None:
        first = data["questions"][0]
        first["says"] = [c for c in first["says"] if c != "tile_tested"]
        first["denies"] = ["tile_tested"]

    _with_questions(tmp_path, files, deny_the_tile)
    problems = [str(p) for p in check(tmp_path) if p.file == "questions.yaml"]
    assert any("denies 'The training tile had run in the lab'" in p for p in problems), problems


def test_question_links_must_resolve(tmp_path: Path, files):
    def break_links(data: dict) -> None:
        data["questions"][1]["options"][0]["claims"] = ["no-such-claim"]
        data["questions"][1]["sources"] = ["S999"]

    _with_questions(tmp_path, files, break_links)
    problems = [str(p) for p in check(tmp_path)]
    assert any("'no-such-claim' is not a known claim" in p for p in problems), problems
    assert any("'S999' is not a known source key" in p for p in problems), problems


# The copies each source and event was once read on: linking any of them again is refused.
OLD_COPY_LINKS = [
    ("sources", "S50", "https://youtuberead.com/tesla-fsd-computer-hardware-3"),
    (
        "sources",
        "S51",
        "https://orderzovirax.com/2022/05/02/tesla-ai-day-2021-live-coverage-dojo-d1-chip-"
        "dojo-supercomputer-tesla-bot-fsd-hw4-0-in-cybertruck/",
    ),
    (
        "sources",
        "S84",
        "https://kishore.org/index.php?action=rev&f1=20230829-1534-22.bak&page=Dojo",
    ),
    (
        "sources",
        "S50",
        "https://slidesinfo.com/articles/news/18.08.2020/"
        "DOJO%20AI-%20Tesla%20Reportedly%20Developing%20A%20Training%20Computer",
    ),
    ("sources", "S96", "https://share.snipd.com/chapter/0318eaa7-9b97-41a7-84a9-630fceade0a2"),
    ("events", "ai-day-2021", "https://muskwiki.com/wiki/tesla-ai-day-2021/"),
    (
        "sources",
        "S36",
        "https://vpk.name/en/517807_tesla-already-has-one-of-the-most-powerful-supercomputers-"
        "in-the-world.html",
    ),
    ("sources", "S77", "https://article-factory.ai/news/tags/cortex"),
    ("sources", "S93", "https://freerepublic.com/focus/chat/4354172/replies?c=1"),
    ("sources", "S05", "http://www.hgckcems.com/document/detail/id/5177.html"),
    (
        "sources",
        "S26",
        "https://techstory.in/tesla-dojo-supercomputer-tripped-the-power-grid-in-palo-alto/",
    ),
    (
        "evidence",
        "ai-day-2022-cabinet-shown",
        "https://newsotp.com/teslas-dojo-supercomputer-tripped-the-grid",
    ),
    (
        "evidence",
        "techstory-dojo-killed",
        "https://techstory.in/elon-musk-confirms-tesla-has-killed-dojo-supercomputer-project/",
    ),
    # S95, S04, S06, S33 and S75 were removed (unused, or merged into the original); no source
    # or item may link their sites again.
    (
        "sources",
        "S02",
        "https://www.it-f1.ca/tesla-unveils-d1-dojo-chip-with-50-billion-transistors-to-train-"
        "artificial-intelligence/",
    ),
    (
        "evidence",
        "ai-day-2021-exapod-comparison-slide",
        "https://meterpreter.org/tesla-d1-chip-has-50-billion-transistors",
    ),
    ("sources", "S01", "https://ustrend.us/web-stories/features-of-tesla-ai-supercomputer/"),
    (
        "evidence",
        "a72-clock-2-6-ghz-disagreement",
        "https://freerepublic.com/focus/chat/4354172/replies?c=1",
    ),
]


@pytest.mark.parametrize(
    ("name", "key", "url"), OLD_COPY_LINKS, ids=[u for *_, u in OLD_COPY_LINKS]
)
def test_a_link_back_to_a_known_copy_is_refused(
    tmp_path: Path, files, name: str, key: str, url: str
):
    data = {k: [dict(x) for x in v] for k, v in files.items()}
    _set(name, key, url=url)(data)
    _write(tmp_path, data)
    assert any(
        p.file == f"{name}.yaml" and "a site that copies other outlets" in p.message
        for p in check(tmp_path)
    )
