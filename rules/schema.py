"""The YAML schema of a rule pack, as pydantic models (``extra="forbid"`` everywhere).

A pack file holds ``pack:`` (id, language, description, sources) and ``rules:``, a list of rules.
Every rule has id, category, type, level, message, optional suggestion, scope, channels and examples;
each type adds its own fields (see the classes below and docs in the README).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.model import CATEGORIES

Channel = Literal["push", "sms", "banner", "email_subject", "ad_text"]
TOKEN_CLASSES = ("exclamation", "question", "emoji", "digit", "uppercase_letter", "word", "ellipsis")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # validators built on first use


class ExampleCase(Strict):
    text: str | None = None
    title: str | None = None
    body: str | None = None
    cta: str | None = None
    channel: Channel | None = None
    brief: dict | None = None

    @model_validator(mode="after")
    def _has_text(self) -> ExampleCase:
        if self.text is None and self.body is None:
            raise ValueError("an example needs `text` or `body`")
        return self


Example = str | ExampleCase


class Examples(Strict):
    match: list[Example] = Field(default_factory=list)
    no_match: list[Example] = Field(default_factory=list)


class Entry(Strict):
    phrase: str
    suggestion: str | None = None
    inflect: bool | None = None


class RuleBase(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    category: str
    level: Literal["error", "warning", "suggestion"] = "error"
    message: str = Field(min_length=1)
    suggestion: str | None = None
    scope: Literal["text", "title", "body", "cta"] = "text"
    channels: list[Channel] | None = None
    except_channels: list[Channel] | None = None
    languages: list[Literal["ru", "en"]] | None = None
    description: str | None = None
    source: str | None = None
    unless: list[str] = Field(
        default_factory=list, description="categories that, when found, make this rule's finding moot"
    )
    examples: Examples = Field(default_factory=Examples)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; known: {', '.join(CATEGORIES)}")
        return value


def _check_regexes(patterns: list[str]) -> list[str]:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"bad regular expression {p!r}: {exc}") from None
    return patterns


class LexiconRule(RuleBase):
    type: Literal["lexicon"]
    entries: list[str | Entry] = Field(min_length=1)
    inflect: bool = True


class SubstitutionRule(RuleBase):
    type: Literal["substitution"]
    swap: dict[str, str] = Field(min_length=1)
    inflect: bool = False


class PatternRule(RuleBase):
    type: Literal["pattern"]
    patterns: list[str] = Field(min_length=1)
    ignorecase: bool = True
    names: bool = Field(
        default=True, description="skip matches inside names (the brief's product, quoted names); false: never"
    )
    _v = field_validator("patterns")(classmethod(lambda cls, v: _check_regexes(v)))


class CountRule(RuleBase):
    type: Literal["count"]
    token: Literal["exclamation", "question", "emoji", "digit", "uppercase_letter", "word", "ellipsis"] | None = None
    pattern: str | None = None
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> CountRule:
        if (self.token is None) == (self.pattern is None):
            raise ValueError("a count rule needs exactly one of `token` or `pattern`")
        if self.min is None and self.max is None:
            raise ValueError("a count rule needs `min`, `max` or both")
        if self.pattern is not None:
            _check_regexes([self.pattern])
        return self


class Limits(Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=1)
    max_segments: int | None = Field(
        default=None, ge=1, description="SMS segments (GSM-7 160/153, UCS-2 70/67 per part), encoding from the text"
    )


class LengthRule(RuleBase):
    type: Literal["length"]
    unit: Literal["chars", "words"] = "chars"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=1)
    per_channel: dict[Channel, Limits] = Field(default_factory=dict)


class CaseRule(RuleBase):
    type: Literal["case"]
    min_length: int = Field(default=3, ge=2)
    allow: list[str] = Field(default_factory=list)
    allow_brief: bool = Field(default=True, description="words of the brief (product, keywords, attributes) pass")
    only_words: bool = Field(
        default=False, description="flag only ordinary dictionary words (shouting), not unknown tokens (acronyms)"
    )
    acronym_max_length: int = Field(default=6, ge=0, description="unknown tokens up to this length are acronyms")
    shout_short: list[str] = Field(
        default_factory=list,
        description='words shorter than min_length that shout in capitals ("NO fee", "ОТ 90 ₽")',
    )
    keyword_after: str | None = Field(
        default=None,
        description='a regex for the words that introduce a code or keyword the customer types ("Reply STOP",'
        ' "code SALE"): a word in capitals right after them is not shouting',
    )

    @model_validator(mode="after")
    def _keyword_regex(self) -> CaseRule:
        _check_regexes([self.keyword_after] if self.keyword_after else [])
        return self


class Matcher(Strict):
    entries: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    inflect: bool = True

    @model_validator(mode="after")
    def _not_empty(self) -> Matcher:
        if not self.entries and not self.patterns:
            raise ValueError("needs `entries` or `patterns`")
        _check_regexes(self.patterns)
        return self


class RequireRule(RuleBase):
    type: Literal["require"]
    entries: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    inflect: bool = True
    grammar: Literal["cta"] | None = Field(
        default=None, description="cta: an imperative or a clause-opening infinitive / base verb counts"
    )
    not_imperative: list[str] = Field(default_factory=list, description="clause-initial words never read as a command")
    accept_brief_cta: bool = Field(default=False, description="the brief's `cta` phrase in the text counts")
    accept_part: bool = Field(default=False, description="a non-empty part of the rule's scope (a button) counts")

    @model_validator(mode="after")
    def _not_empty(self) -> RequireRule:
        if not self.entries and not self.patterns and self.grammar is None:
            raise ValueError("a require rule needs `entries`, `patterns` or `grammar`")
        _check_regexes(self.patterns)
        return self


class ConditionalRule(RuleBase):
    type: Literal["conditional"]
    when: Matcher
    require: Matcher


class RepetitionRule(RuleBase):
    type: Literal["repetition"]
    min_length: int = Field(default=2, ge=1)
    allow: list[str] = Field(default_factory=list)
    lemmas: bool = Field(default=False, description='also two forms of one word in a row ("карту карты")')
    phrases: bool = Field(default=False, description='also two or more words said twice in a row ("на все на все")')
    joiners: list[str] = Field(
        default_factory=list,
        description='a phrase of two or three words said twice around one of these is an error ("a and a")',
    )


class ScriptRule(RuleBase):
    type: Literal["script"]
    check: Literal["mixed", "language"]
    min_share: float = Field(default=0.5, gt=0, le=1)
    allow: list[str] = Field(default_factory=list)
    dictionary: bool = Field(
        default=False,
        description="language: also count words of the pack's alphabet that its dictionary lacks as foreign"
        " (Spanish or French in an English pack)",
    )
    foreign_letters: str = Field(
        default="",
        description='language: letters the pack\'s language never writes ("іїєґ" of Ukrainian in a Russian'
        " pack); a word holding one is foreign, and two such words put the text in another language",
    )


class FactsRule(RuleBase):
    type: Literal["facts"]
    check: Literal["mismatch", "unsupported", "required", "basis"]
    # what is no claim: "24/7", and the figure of "#1", "No. 1", "№1" (a superlative the superlative rules judge)
    ignore: list[str] = Field(default_factory=lambda: [r"24/7", r"(?:#|\bno\.\s?|№\s?)1(?!\d)"])
    basis_keys: str | None = Field(
        default=None, description="basis: a regex on attribute keys (rate, apr…) whose values need a basis"
    )
    basis: list[str] = Field(default_factory=list, description="basis: patterns, one of which must be in the text")
    _v = field_validator("ignore", "basis")(classmethod(lambda cls, v: _check_regexes(v)))

    @model_validator(mode="after")
    def _basis_fields(self) -> FactsRule:
        if self.check == "basis" and (not self.basis_keys or not self.basis):
            raise ValueError("a `basis` facts rule needs `basis_keys` and `basis`")
        return self


class PlaceholderRule(RuleBase):
    type: Literal["placeholder"]
    patterns: list[str] = Field(
        default_factory=lambda: [
            r"\{\{[^{}\n]*\}\}",
            r"\{[A-Za-zА-Яа-яЁё_$][\w.]*\}",
            r"\[[A-ZА-ЯЁ_][A-ZА-ЯЁ_ ]*\]",
            r"(?i:\[(?:имя|фамилия|отчество|name|first[ _]?name|last[ _]?name|full[ _]?name|клиент|client|customer"
            r"|user|имя[ _]клиента)(?:[ _]?name)?\])",
            r"\*\|[A-Z][A-Z0-9_:]*\|\*",  # mail merge tags: *|FNAME|*
            r"%[A-Za-zА-Яа-яЁё_]{2,}%",
            r"\$\{[^}\n]*\}",
            r"<[A-Za-zА-Яа-яЁё_]{2,}>",
            r"<[a-zа-яё]{2,}(?: [a-zа-яё]{2,}){1,2}>",  # <first name>, <имя клиента>
            r"#[A-ZА-ЯЁ_]{2,}#",
            r"\(\([^()\n]{1,30}\)\)",
        ]
    )
    _v = field_validator("patterns")(classmethod(lambda cls, v: _check_regexes(v)))


class PhrasesRule(RuleBase):
    type: Literal["phrases"]
    patterns: list[str] = Field(
        min_length=1,
        description=(
            "word sequences matched on inflected forms: `a|b` alternatives, `word?` optional, `*` any one word,"
            " `*3` up to three words, `=word` this form only"
        ),
    )
    inflect: bool = True


class PythonRule(RuleBase):
    type: Literal["python"]
    function: str = Field(description="an `adsft.rules` entry point name, or `module:callable`")
    options: dict = Field(default_factory=dict)


Rule = Annotated[
    LexiconRule
    | SubstitutionRule
    | PatternRule
    | CountRule
    | LengthRule
    | CaseRule
    | RequireRule
    | ConditionalRule
    | RepetitionRule
    | ScriptRule
    | FactsRule
    | PlaceholderRule
    | PhrasesRule
    | PythonRule,
    Field(discriminator="type"),
]
RULE_TYPES = (
    "lexicon",
    "substitution",
    "pattern",
    "count",
    "length",
    "case",
    "require",
    "conditional",
    "repetition",
    "script",
    "facts",
    "placeholder",
    "phrases",
    "python",
)


class PackInfo(Strict):
    id: str
    language: Literal["ru", "en"]
    names: list[Literal["brief", "quoted", "capitalised"]] = Field(
        default_factory=lambda: ["brief"],  # type: ignore[arg-type]
        description="what counts as a name that word rules skip: the brief's product, quoted text, capitalised words"
        " inside a sentence",
    )
    terms: list[str] = Field(
        default_factory=list,
        description='fixed terms of the trade that word rules read as names ("easy access" savings, "fixed rate")',
    )
    precedence: list[str] = Field(
        default_factory=list,
        description="categories from most to least specific: where spans overlap, only the most specific is kept",
    )
    description: str | None = None
    sources: list[str] = Field(default_factory=list)
    version: str | None = None
