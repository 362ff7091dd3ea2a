"""Source: one cited article, paper or post, shown to readers by outlet, title and date."""

from typing import Annotated

from pydantic import StringConstraints
from sqlmodel import Field, SQLModel

from app.core.schema import DatePrecision, EnumText, Grade, IsoDate, ShortText, Url

SOURCE_KEY_PATTERN = r"^S\d{2,3}b?$"
SourceKey = Annotated[str, StringConstraints(pattern=SOURCE_KEY_PATTERN, max_length=20)]


class SourceBase(SQLModel):
    grade: Grade
    outlet: ShortText
    title: ShortText
    url: Url | None = None
    date: IsoDate | None = None
    date_precision: DatePrecision = DatePrecision.day


class SourceCreate(SourceBase):
    key: SourceKey


class Source(SourceBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=20)
    grade: Grade = Field(sa_type=EnumText(Grade, 2))
    outlet: str = Field(max_length=300)
    title: str = Field(max_length=300)
    url: str | None = Field(default=None, max_length=2_000)
    date_precision: DatePrecision = Field(
        default=DatePrecision.day, sa_type=EnumText(DatePrecision, 10)
    )


class SourcePublic(SourceBase):
    key: str
    citation: str = Field(description="How pages cite it: Outlet, “Title”, date.")
