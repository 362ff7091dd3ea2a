"""Question: what a reader asks of the ledger, answered from the claims and capabilities it names.

Each answer option stands for claims: the option holds when one of its claims holds (its
verdict meets the rules' `meets_deadline`) and none is contradicted. The editor's one-line
summary names the options it says (`says`); a summary may not say an option the computed
answer does not hold (`ledger data check` and the API refuse it).
"""

import datetime as dt
from typing import Annotated

from pydantic import StringConstraints, model_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.core.schema import (
    IsoDate,
    Level,
    PartialUpdate,
    ShortText,
    Slug,
    not_null_fields,
    utcnow,
)
from app.sources.models import SourceKey

OptionCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
MAX_OPTIONS = 8
MAX_LINKS = 40


class AnswerOption(SQLModel):
    """One possible answer, and what holds it up: claims, a capability's status, or both.

    It holds when one of its claims holds and none is contradicted, and when the capability's
    status (on the day the answer is for) is at least `at_least` and at most `at_most`.
    """

    code: OptionCode
    label: ShortText = Field(description="The answer in plain words, e.g. 'Redundancy'.")
    claims: list[Slug] = Field(default_factory=list, max_length=MAX_LINKS)
    capability: Slug | None = None
    at_least: Level | None = None
    at_most: Level | None = None

    @model_validator(mode="after")
    def _stands_on_something(self) -> "AnswerOption":
        if not self.claims and self.capability is None:
            raise ValueError("an option needs claims or a capability")
        if self.capability is None and (self.at_least or self.at_most):
            raise ValueError("at_least and at_most need a capability")
        if self.capability is not None and not (self.at_least or self.at_most):
            raise ValueError("a capability option needs at_least or at_most")
        return self


class QuestionBase(SQLModel):
    text: ShortText = Field(description="The question, as a reader would ask it.")
    summary: ShortText = Field(description="The editor's one-line answer.")
    says: list[OptionCode] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        description="The options the summary says hold; each must hold in the computed answer.",
    )
    denies: list[OptionCode] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        description="The options the summary says do not hold; none may hold in the answer.",
    )
    about: IsoDate | None = Field(
        default=None, description="The day the question asks about (default: the day read)."
    )
    capabilities: list[Slug] = Field(default_factory=list, max_length=MAX_LINKS)
    options: list[AnswerOption] = Field(default_factory=list, max_length=MAX_OPTIONS)
    sources: list[SourceKey] = Field(default_factory=list, max_length=MAX_LINKS)


def option_problem(options: list[str], says: list[str], denies: list[str]) -> str | None:
    """Return why `says`/`denies` do not fit the option codes, or None."""
    if len(set(options)) != len(options):
        return "options: each code must be unique"
    unknown = [code for code in [*says, *denies] if code not in options]
    if unknown:
        return f"says/denies: {', '.join(unknown)} is not one of the options"
    if set(says) & set(denies):
        return "says/denies: an option cannot be both said and denied"
    return None


class QuestionCreate(QuestionBase):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "slug": "fsd-second-chip-redundancy-or-capacity",
                    "text": "Does the FSD computer's second chip give redundancy or capacity?",
                    "summary": "Redundancy: each chip runs the full network on its own.",
                    "says": ["redundancy"],
                    "capabilities": ["fsd-computer-hw3"],
                    "options": [
                        {
                            "code": "redundancy",
                            "label": "Redundancy",
                            "claims": ["fsd-hw3-dual-redundancy"],
                        }
                    ],
                    "sources": ["S01"],
                }
            ]
        }
    }

    slug: Slug

    @model_validator(mode="after")
    def _says_known_options(self) -> "QuestionCreate":
        problem = option_problem([o.code for o in self.options], self.says, self.denies)
        if problem:
            raise ValueError(problem)
        return self


class QuestionUpdate(PartialUpdate):
    not_null = not_null_fields(QuestionBase)

    text: ShortText | None = None
    summary: ShortText | None = None
    says: list[OptionCode] | None = Field(default=None, max_length=MAX_OPTIONS)
    denies: list[OptionCode] | None = Field(default=None, max_length=MAX_OPTIONS)
    about: IsoDate | None = None
    capabilities: list[Slug] | None = Field(default=None, max_length=MAX_LINKS)
    options: list[AnswerOption] | None = Field(default=None, max_length=MAX_OPTIONS)
    sources: list[SourceKey] | None = Field(default=None, max_length=MAX_LINKS)


class Question(QuestionBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=120)
    text: str = Field(max_length=300)
    summary: str = Field(max_length=300)
    says: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    denies: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    capabilities: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    options: list[dict] = Field(  # type: ignore[assignment]  # stored as plain JSON
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    sources: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class ClaimHolding(SQLModel):
    slug: str
    text: str
    verdict: str


class OptionAnswer(SQLModel):
    code: str
    label: str
    state: str = Field(description="holds | contradicted | open")
    claims: list[ClaimHolding]
    capability: str | None = None
    capability_status: Level | None = None


class CapabilityAnswer(SQLModel):
    slug: str
    name: str
    status: Level
    claimed_status: Level
    outcome: str


class EvidenceLink(SQLModel):
    id: int
    claim: str = Field(description="The claim it bears on.")
    title: str
    stance: str
    benchmark_run_id: int | None = None


class Answer(SQLModel):
    """The answer computed from the linked claims' verdicts and capabilities' statuses."""

    holds_for: dt.date = Field(description="The day the answer holds for.")
    text: str = Field(description="The computed answer in words.")
    holding: list[str] = Field(description="The codes of the options that hold.")
    options: list[OptionAnswer]
    capabilities: list[CapabilityAnswer]
    evidence: list[EvidenceLink] = Field(description="The deciding items behind the claims.")
    runs: list[int] = Field(description="Simulation runs behind those items.")
    summary_holds: bool = Field(
        description="Whether every option the summary says holds and none it denies does."
    )


class QuestionPublic(QuestionBase):
    id: int
    slug: str
    version: int
    answer: Answer
