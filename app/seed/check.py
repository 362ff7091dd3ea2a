"""Validate the seed data folder: schema, references, grades, stances, dates and URLs.

Every problem names its file and line, so `ledger data check` can point at the entry to fix.
"""

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.capabilities.models import CapabilityKind, Outcome
from app.claims.models import ClaimantKind
from app.core.schema import (
    DatePrecision,
    Grade,
    IsoDate,
    Level,
    LongText,
    Number,
    ShortText,
    Slug,
    Url,
)
from app.events.models import EventKind
from app.evidence.models import EvidenceKind, Origin, Stance
from app.questions.check import summary_problems
from app.questions.models import (
    MAX_LINKS,
    MAX_OPTIONS,
    AnswerOption,
    OptionCode,
    option_problem,
)
from app.sources.models import SourceKey

ClaimLevel = Literal["aspirational", "built", "tested", "benchmarked"]
NON_RAISING_KINDS = {"analytical_check", "simulation_run"}
# Reader-facing text must not point at the internal fact sheet or show a bare source key.
# That covers the fact sheet's claim numbers too: "(facts C39)", "(C30 holds)", "C37b".
INTERNAL_TEXT = re.compile(r"fact[- ]sheet|§|\bfacts\s+[CS]\d|\b[CS]\d{1,3}[a-z]?\b", re.IGNORECASE)
READER_FIELDS = {
    "events.yaml": ("name", "venue", "description"),
    "capabilities.yaml": ("name", "description", "outcome_note"),
    "claims.yaml": ("text", "claimant"),
    "evidence.yaml": ("title", "summary", "assumption"),
    "sources.yaml": ("outlet", "title"),
    "status_levels.yaml": ("label", "description", "exit_criteria"),
    "questions.yaml": ("text", "summary"),
}
# A source links to the original or its archive, never to a copy of it. An outlet that says it
# is a copy is refused, and so is a link to a site known to republish other outlets' articles.
COPY_WORDS = re.compile(r"\b(?:copy|copied|mirror|mirrored|reprint|reprinted|excerpt|spun)\b", re.I)
MIRROR_HOSTS = frozenset(
    {
        "article-factory.ai",  # unattributed summaries of other outlets' articles
        "fanyv88.com",  # a proxy of Scribd
        "finasteride24.com",
        "freerepublic.com",  # forum posts that paste other sites' text
        "grcpllsonline.com",
        "hgckcems.com",  # a portal that republishes Chinese outlets' news
        "hmongwiki.org",
        "iiab.live",  # Kiwix snapshots of Wikipedia
        "innovationessence.com",
        "it-f1.ca",  # spun rewrites of other outlets' articles
        "kishore.org",  # a wiki whose pages quote posts and articles
        "meterpreter.org",  # uncredited translations of other outlets' news
        "muskwiki.com",  # pages built from video captions
        "newsotp.com",  # rewrites of other outlets' articles
        "orderzovirax.com",
        "relevanpress.com",
        "scribd.com",
        "snipd.com",  # podcast transcripts
        "sipoch.com",
        "slidesinfo.com",
        "steemcn.xyz",  # a Steemit front end
        "studylib.net",
        "submitmypressrelease.com",
        "techstory.in",  # rewrites of other outlets' articles
        "techypoints.com",
        "tengele.com",
        "theoutpost.ai",
        "threadreaderapp.com",  # unrolls X threads
        "topclaps.com",
        "upmytech.com",
        "ustrend.us",  # web stories rewritten from others' articles
        "vpk.name",  # machine translations of other outlets' news
        "vuink.com",
        "wikimili.com",
        "youtuberead.com",  # transcripts of YouTube videos
    }
)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class SourceEntry(_Entry):
    key: SourceKey
    grade: Grade
    outlet: ShortText
    title: ShortText
    url: Url | None
    date: IsoDate | None = None
    date_precision: DatePrecision = DatePrecision.day
    note: LongText | None = None


class StatusLevelEntry(_Entry):
    code: Level
    rank: int = Field(ge=0, le=10, strict=True)
    label: ShortText
    description: LongText
    exit_criteria: LongText
    accepted_evidence_kinds: list[EvidenceKind]
    accepted_grades: list[Grade]


class EventEntry(_Entry):
    slug: Slug
    name: ShortText
    kind: EventKind
    date: IsoDate
    date_precision: DatePrecision = DatePrecision.day
    venue: ShortText
    url: Url
    description: LongText


class CapabilityEntry(_Entry):
    slug: Slug
    name: ShortText
    kind: CapabilityKind
    parent: Slug | None
    critical: bool = Field(strict=True)
    description: LongText
    outcome: Outcome
    outcome_date: IsoDate | None = None
    outcome_note: LongText | None = None


class FigureEntry(_Entry):
    metric: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,120}$")]
    value: Number
    unit: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    datatype: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    scale: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None


class ClaimEntry(_Entry):
    slug: Slug
    capability: Slug
    event: Slug
    text: LongText = Field(min_length=3)
    claimant: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    claimant_kind: ClaimantKind
    figure: FigureEntry | None = None
    implied_status: ClaimLevel
    source: SourceKey
    grade: Grade | None = None
    url: Url | None = None
    stated_on: IsoDate
    date_precision: DatePrecision = DatePrecision.day
    deadline: IsoDate | None = None
    restates: Slug | None = None
    video_offset_s: int | None = Field(default=None, ge=0, le=86_400, strict=True)


class EvidenceEntry(_Entry):
    slug: Slug
    capability: Slug
    claim: Slug | None = None
    title: ShortText
    summary: LongText = Field(min_length=3)
    kind: EvidenceKind
    origin: Origin
    source: SourceKey
    url: Url | None = None
    archived_url: Url | None = None
    grade: Grade | None = None
    date: IsoDate
    date_precision: DatePrecision = DatePrecision.day
    stance: Stance
    assumption: LongText | None = None
    level: ClaimLevel | None = None


class OptionEntry(_Entry):
    code: OptionCode
    label: ShortText
    claims: list[Slug] = Field(default_factory=list, max_length=MAX_LINKS)
    capability: Slug | None = None
    at_least: Level | None = None
    at_most: Level | None = None


class QuestionEntry(_Entry):
    slug: Slug
    text: ShortText
    summary: ShortText
    says: list[OptionCode] = Field(default_factory=list, max_length=MAX_OPTIONS)
    denies: list[OptionCode] = Field(default_factory=list, max_length=MAX_OPTIONS)
    about: IsoDate | None = None
    capabilities: list[Slug] = Field(default_factory=list, max_length=MAX_LINKS)
    options: list[OptionEntry] = Field(min_length=1, max_length=MAX_OPTIONS)
    sources: list[SourceKey] = Field(min_length=1, max_length=MAX_LINKS)


# libyaml's parser keeps node marks and is ten times faster than the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SCHEMAS: dict[str, tuple[type[_Entry], str]] = {
    "sources.yaml": (SourceEntry, "key"),
    "status_levels.yaml": (StatusLevelEntry, "code"),
    "events.yaml": (EventEntry, "slug"),
    "capabilities.yaml": (CapabilityEntry, "slug"),
    "claims.yaml": (ClaimEntry, "slug"),
    "evidence.yaml": (EvidenceEntry, "slug"),
    "questions.yaml": (QuestionEntry, "slug"),
}


# A ledger may have no questions yet.
OPTIONAL_FILES = {"questions.yaml"}


@dataclass(frozen=True)
class Problem:
    """One error in the seed data, at a file and line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Entry:
    """One mapping of a seed file, with the line of each of its fields."""

    file: str
    line: int
    data: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Return the entry's slug, key or code, for messages."""
        return str(self.data.get("slug") or self.data.get("key") or self.data.get("code") or "?")

    def problem(self, message: str, at: str | None = None) -> Problem:
        """Return a problem located at one field of this entry (or at the entry)."""
        line = self.lines.get(at, self.line) if at else self.line
        return Problem(self.file, line, f"{self.name}: {message}")


def _read(path: Path) -> tuple[list[Entry], list[Problem]]:
    """Parse one YAML list of mappings, keeping the line of every entry and field."""
    name = path.name
    loader = _Loader(path.read_text(encoding="utf-8"))
    try:
        node = loader.get_single_node()
        if node is None:
            return [], []
        if not isinstance(node, yaml.SequenceNode):
            return [], [Problem(name, node.start_mark.line + 1, "expected a YAML list")]
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [], [Problem(name, line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    finally:
        loader.dispose()
    entries: list[Entry] = []
    problems: list[Problem] = []
    for item_node, item in zip(node.value, data, strict=True):
        line = item_node.start_mark.line + 1
        if not isinstance(item_node, yaml.MappingNode) or not isinstance(item, dict):
            problems.append(Problem(name, line, "expected a mapping"))
            continue
        keys = [(k.value, k.start_mark.line + 1) for k, _v in item_node.value]
        lines = {key: at for key, at in keys}
        entry = Entry(name, line, item, lines)
        for key, count in Counter(k for k, _ in keys).items():
            if count > 1:
                problems.append(entry.problem(f"field '{key}' appears {count} times", key))
        entries.append(entry)
    return entries, problems


def _schema(entries: list[Entry], model: type[_Entry]) -> Iterator[Problem]:
    for entry in entries:
        try:
            model.model_validate(entry.data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = [str(part) for part in error["loc"]]
                where = ".".join(loc) or "entry"
                yield entry.problem(f"{where}: {error['msg']}", loc[0] if loc else None)


def _duplicates(entries: list[Entry], key: str) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for entry in entries:
        value = entry.data.get(key)
        if not isinstance(value, str):
            continue
        if value in seen:
            yield entry.problem(f"duplicate {key} (first at line {seen[value]})", key)
        else:
            seen[value] = entry.line


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def date_span(value: object, precision: object) -> tuple[dt.date, dt.date] | None:
    """Return the first and last day a date of the given precision can mean."""
    day = _date(value)
    if day is None:
        return None
    if precision == "none":
        return day, dt.date.max
    if precision == "year":
        return day, dt.date(day.year, 12, 31)
    if precision == "month":
        following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return day, following - dt.timedelta(days=1)
    return day, day


def _precision(entry: Entry, date_field: str) -> Iterator[Problem]:
    day = _date(entry.data.get(date_field))
    precision = entry.data.get("date_precision", "day")
    if day is None:
        return
    if precision == "month" and day.day != 1:
        yield entry.problem("a month-precision date must be the 1st of its month", date_field)
    if precision == "year" and (day.month, day.day) != (1, 1):
        yield entry.problem("a year-precision date must be 1 January", date_field)
    if precision == "none" and entry.file != "evidence.yaml":
        yield entry.problem("only an evidence item can say its source gives no date", date_field)


def _urls(entry: Entry) -> Iterator[Problem]:
    for name in ("url", "archived_url"):
        value = entry.data.get(name)
        if not isinstance(value, str):
            continue
        parts = urlsplit(value)
        host = parts.hostname or ""
        if parts.scheme not in {"http", "https"} or "." not in host or " " in value:
            yield entry.problem(f"{name} is not a well-formed http(s) URL", name)


def _mirrors(entry: Entry) -> Iterator[Problem]:
    if entry.file == "sources.yaml":
        for name in ("outlet", "title"):
            value = entry.data.get(name)
            if isinstance(value, str) and (found := COPY_WORDS.search(value)):
                yield entry.problem(
                    f"{name} says the source is a {found.group(0)!r}; "
                    "cite and link the original (or its archive) instead",
                    name,
                )
    for name in ("url", "archived_url"):
        value = entry.data.get(name)
        host = (urlsplit(value).hostname or "") if isinstance(value, str) else ""
        if any(host == h or host.endswith(f".{h}") for h in MIRROR_HOSTS):
            yield entry.problem(
                f"{name} points at {host}, a site that copies other outlets; "
                "link the original or its archive",
                name,
            )


def _reader_text(entry: Entry) -> Iterator[Problem]:
    for name in READER_FIELDS.get(entry.file, ()):
        value = entry.data.get(name)
        if isinstance(value, str) and (found := INTERNAL_TEXT.search(value)):
            yield entry.problem(
                f"{name} shows readers an internal reference {found.group(0)!r}; "
                "cite the outlet in words or drop it",
                name,
            )


def _resolve(entry: Entry, name: str, known: Iterable[str], kind: str) -> Iterator[Problem]:
    value = entry.data.get(name)
    if value is not None and value not in known:
        yield entry.problem(f"{name} '{value}' is not a known {kind}", name)


def _cycles(entries: list[Entry], link: str) -> Iterator[Problem]:
    """Report entries whose `link` chain (parent, restates) returns to itself."""
    target = {e.name: e.data.get(link) for e in entries}
    for entry in entries:
        seen, current = {entry.name}, target.get(entry.name)
        while current is not None and current in target:
            if current in seen:
                yield entry.problem(f"{link} chain loops back to '{current}'", link)
                break
            seen.add(current)
            current = target[current]


def _origin(slug: str, claims: dict[str, Entry]) -> Entry:
    """Follow a claim's `restates` chain to the first statement."""
    current, seen = claims[slug], {slug}
    while (earlier := current.data.get("restates")) in claims and earlier not in seen:
        seen.add(earlier)
        current = claims[earlier]
    return current


def check(seed_dir: Path) -> list[Problem]:
    """Return every problem found in the seed folder (an empty list means it is valid)."""
    files: dict[str, list[Entry]] = {}
    problems: list[Problem] = []
    for name, (model, key) in SCHEMAS.items():
        path = seed_dir / name
        if not path.exists():
            if name not in OPTIONAL_FILES:
                problems.append(Problem(name, 1, "file is missing"))
            files[name] = []
            continue
        entries, found = _read(path)
        files[name] = entries
        problems += found
        problems += _schema(entries, model)
        problems += _duplicates(entries, key)
        for entry in entries:
            problems += _urls(entry)
            problems += _mirrors(entry)
            problems += _reader_text(entry)
    problems += _references(files)
    if not problems:  # the answers are computed only from a seed that loads
        problems += _summaries(seed_dir, files["questions.yaml"])
    return sorted(problems, key=lambda p: (p.file, p.line, p.message))


def _summaries(seed_dir: Path, questions: list[Entry]) -> Iterator[Problem]:
    """Refuse a question summary that its computed answer contradicts."""
    found = summary_problems(seed_dir) if questions else {}
    for entry in questions:
        if entry.name in found:
            yield entry.problem(found[entry.name], "summary")


def _references(files: dict[str, list[Entry]]) -> Iterator[Problem]:
    sources = {e.name: e for e in files["sources.yaml"]}
    levels = {e.name: e for e in files["status_levels.yaml"]}
    events = {e.name: e for e in files["events.yaml"]}
    caps = {e.name: e for e in files["capabilities.yaml"]}
    claims = {e.name: e for e in files["claims.yaml"]}

    for entry in files["sources.yaml"]:
        yield from _precision(entry, "date")
        if entry.data.get("url") is None and not entry.data.get("note"):
            yield entry.problem("a source without a url needs a note saying why", "url")
    for entry in files["events.yaml"]:
        yield from _precision(entry, "date")
    for entry in files["capabilities.yaml"]:
        yield from _resolve(entry, "parent", caps, "capability")
        if entry.data.get("outcome", "active") != "active" and not entry.data.get("outcome_date"):
            yield entry.problem("an ended capability needs an outcome_date", "outcome")
    yield from _cycles(files["capabilities.yaml"], "parent")

    for entry in files["claims.yaml"]:
        yield from _claim(entry, sources, events, caps, claims)
    yield from _cycles(files["claims.yaml"], "restates")

    accepted = {
        code: set(e.data.get("accepted_evidence_kinds") or []) for code, e in levels.items()
    }
    for entry in files["evidence.yaml"]:
        yield from _evidence(entry, sources, caps, claims, accepted)

    for entry in files["questions.yaml"]:
        yield from _question(entry, sources, caps, claims)


def _question(
    entry: Entry, sources: dict[str, Entry], caps: dict[str, Entry], claims: dict[str, Entry]
) -> Iterator[Problem]:
    data = entry.data
    options = [o for o in data.get("options") or [] if isinstance(o, dict)]
    for slug in data.get("capabilities") or []:
        if slug not in caps:
            yield entry.problem(f"capabilities: '{slug}' is not a known capability", "capabilities")
    for key in data.get("sources") or []:
        if key not in sources:
            yield entry.problem(f"sources: '{key}' is not a known source key", "sources")
    for option in options:
        for slug in option.get("claims") or []:
            if slug not in claims:
                yield entry.problem(f"options: '{slug}' is not a known claim", "options")
        if option.get("capability") and option["capability"] not in caps:
            yield entry.problem(
                f"options: '{option['capability']}' is not a known capability", "options"
            )
        try:
            AnswerOption.model_validate(option)
        except ValidationError as exc:
            yield entry.problem(f"options: {exc.errors()[0]['msg']}", "options")
    problem = option_problem(
        [str(o.get("code")) for o in options],
        list(data.get("says") or []),
        list(data.get("denies") or []),
    )
    if problem:
        yield entry.problem(problem, "says")


def _claim(
    entry: Entry,
    sources: dict[str, Entry],
    events: dict[str, Entry],
    caps: dict[str, Entry],
    claims: dict[str, Entry],
) -> Iterator[Problem]:
    data = entry.data
    yield from _resolve(entry, "capability", caps, "capability")
    yield from _resolve(entry, "event", events, "event")
    yield from _resolve(entry, "source", sources, "source key")
    yield from _resolve(entry, "restates", claims, "claim")
    yield from _precision(entry, "stated_on")
    event = events.get(data.get("event", ""))
    if event is not None:
        if _date(data.get("stated_on")) != _date(event.data.get("date")):
            yield entry.problem("stated_on differs from the date of its event", "stated_on")
        if data.get("date_precision", "day") != event.data.get("date_precision", "day"):
            yield entry.problem("date_precision differs from its event's", "date_precision")
    restated = claims.get(data.get("restates") or "")
    if restated is not None:
        if data["restates"] == entry.name:
            yield entry.problem("a claim cannot restate itself", "restates")
        mine = date_span(data.get("stated_on"), data.get("date_precision"))
        theirs = date_span(restated.data.get("stated_on"), restated.data.get("date_precision"))
        if mine and theirs and theirs[0] > mine[1]:
            yield entry.problem(f"restates a later claim '{restated.name}'", "restates")
    deadline, stated = _date(data.get("deadline")), _date(data.get("stated_on"))
    if deadline and stated and deadline < stated:
        yield entry.problem("deadline is before the claim was stated", "deadline")


_SAYS_HOLDS_ONLY = re.compile(r"\bholds? only\b", re.IGNORECASE)


def _reads_after_holds_only_if(assumption: str) -> bool:
    """Return whether an assumption reads as a clause after "holds only if" (pages add those words)."""
    text = assumption.strip()
    return text[:1].islower() and not _SAYS_HOLDS_ONLY.search(text) and not text.endswith(".")


def _evidence(
    entry: Entry,
    sources: dict[str, Entry],
    caps: dict[str, Entry],
    claims: dict[str, Entry],
    accepted: dict[str, set[str]],
) -> Iterator[Problem]:
    data = entry.data
    yield from _resolve(entry, "capability", caps, "capability")
    yield from _resolve(entry, "claim", claims, "claim")
    yield from _resolve(entry, "source", sources, "source key")
    yield from _precision(entry, "date")
    stance, level, kind = data.get("stance"), data.get("level"), data.get("kind")
    source = sources.get(data.get("source", ""))
    grade = data.get("grade") or (source.data.get("grade") if source else None)

    if stance == "inconclusive" and not data.get("assumption"):
        yield entry.problem("an inconclusive item must name its assumption", "stance")
    if data.get("assumption") and stance != "inconclusive":
        yield entry.problem("only an inconclusive item carries an assumption", "assumption")
    if data.get("assumption") and not _reads_after_holds_only_if(str(data["assumption"])):
        yield entry.problem(
            "an assumption is the clause that follows 'holds only if' on the pages: it starts "
            "in lower case, does not say 'holds only' again and has no final full stop",
            "assumption",
        )
    if stance in {"contradicts", "inconclusive", "not_found", "partial"}:
        if level is not None:
            yield entry.problem(f"a '{stance}' item supports no level", "level")
        if not data.get("claim"):
            yield entry.problem(f"a '{stance}' item must name the claim it bears on", "stance")
    elif kind in NON_RAISING_KINDS:
        if level is not None:
            yield entry.problem(f"{kind} never raises a level; drop the level", "level")
    elif stance == "supports":
        if level is None:
            yield entry.problem("a supporting item needs the level it supports", "stance")
        elif kind not in accepted.get(level, set()):
            yield entry.problem(f"{kind} cannot establish '{level}' on the ladder", "kind")
    if kind == "analytical_check" and grade != "D":
        yield entry.problem("an analytical check is own arithmetic: grade D", "kind")
    origin = data.get("origin")
    if (kind == "analytical_check" or grade == "D") and origin != "computed":
        yield entry.problem("own arithmetic or simulation has origin 'computed'", "origin")
    if origin == "computed" and (kind not in NON_RAISING_KINDS or grade != "D"):
        yield entry.problem(
            "a computed item is an analytical check or a simulation run, grade D", "origin"
        )

    claim = claims.get(data.get("claim") or "")
    if claim is None:
        return
    if claim.data.get("capability") != data.get("capability"):
        yield entry.problem(
            f"its claim '{claim.name}' is about '{claim.data.get('capability')}'", "capability"
        )
    first = _origin(claim.name, claims)
    mine = date_span(data.get("date"), data.get("date_precision"))
    stated = date_span(first.data.get("stated_on"), first.data.get("date_precision"))
    if mine and stated and mine[1] < stated[0]:
        yield entry.problem(
            f"dated before the claim it bears on ('{first.name}', {first.data.get('stated_on')})",
            "date",
        )
