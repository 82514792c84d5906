"""The product brief: what a message is written from, and what the `facts` rules check it against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

Language = Literal["ru", "en"]
Channel = Literal["push", "sms", "banner", "email_subject", "ad_text"]
AttributeValue = bool | int | float | str


class Brief(BaseModel):
    """One product brief. Unknown fields are an error that names the field."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str = Field(min_length=1)
    language: Language
    channel: Channel
    product: str = Field(min_length=1)
    category: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    required_attributes: list[str] = Field(default_factory=list)
    segment: str = "mass"
    offer: str | None = None
    cta: str | None = None
    constraints: dict[str, int | str | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _required_are_attributes(self) -> Brief:
        missing = [key for key in self.required_attributes if key not in self.attributes]
        if missing:
            raise ValueError(f"required_attributes name attributes the brief does not have: {missing}")
        return self


T = TypeVar("T")


def per_brief(table: dict[int, tuple[Brief, T]], brief: Brief, build: Callable[[Brief], T]) -> T:
    """What ``build`` makes of a brief, made once per brief object and kept in ``table`` (a brief is
    checked against many candidate messages); the table is emptied past 4,096 briefs."""
    hit = table.get(id(brief))
    if hit is not None and hit[0] is brief:
        return hit[1]
    if len(table) > 4096:
        table.clear()
    made = build(brief)
    table[id(brief)] = (brief, made)
    return made
