"""`adsft check`: read messages (JSONL or CSV, a file or stdin), check each with a rule pack."""

from __future__ import annotations

import csv
import gc
import io
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from orchestrator.briefs import problems_from
from orchestrator.errors import InputError, Problem
from rules import Brief, CheckResult, Message, RulePack

_MESSAGE_KEYS = {
    "id",
    "text",
    "title",
    "body",
    "cta",
    "channel",
    "brief",
    "brief_id",
    "language",
    "expected",
    "meta",
    "note",
}


@dataclass(frozen=True)
class Item:
    id: str
    line: int
    message: Message
    brief: Brief | None
    language: str | None = None


def _read_text(source: str) -> tuple[str, str]:
    if source == "-":
        name, data = "<stdin>", sys.stdin.buffer.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"no such file: {source}", fix="pass a JSONL or CSV file, or - for standard input")
        name, data = source, path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a UTF-8 byte-order mark is accepted
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not UTF-8 (byte {exc.start})", fix="save the input as UTF-8") from None
    if not text.strip():
        raise InputError(f"{name} is empty: no messages to check", fix="pass a JSONL or CSV file of messages")
    return name, text


def _item(
    obj: object, file: str, line: int, briefs: dict[str, Brief], interned: dict[str, Brief] | None = None
) -> Item | list[Problem]:
    """One message of the input, or its problems. ``interned`` holds the briefs already read, by their
    content: messages written from one brief share one Brief, whose facts are then worked out once."""
    if not isinstance(obj, dict):
        return [Problem("each line must be a JSON object", file, line)]
    unknown = sorted(set(obj) - _MESSAGE_KEYS)
    if unknown:
        return [Problem(f"unknown field(s) {unknown}", file, line, fix=f"use only: {', '.join(sorted(_MESSAGE_KEYS))}")]
    text, body = obj.get("text"), obj.get("body")
    if not isinstance(text, str) and not isinstance(body, str):
        return [Problem("needs a string `text` (or `title`/`body`/`cta`)", file, line)]
    brief = None
    if obj.get("brief") is not None:
        # repr tells apart all JSON does (1, 1.0 and true; NaN and null), in C and without sorting: a brief
        # written with its keys in another order is only read once more
        key = repr(obj["brief"]) if interned is not None else ""
        brief = interned.get(key) if interned is not None else None
        if brief is None:
            try:
                brief = Brief.model_validate(obj["brief"])
            except ValidationError as exc:
                return problems_from(exc, file, line, "brief")
            if interned is not None:
                interned[key] = brief
    elif obj.get("brief_id") is not None:
        brief = briefs.get(str(obj["brief_id"]))
        if brief is None:
            return [
                Problem(
                    f"brief_id {obj['brief_id']!r} is not in the briefs file",
                    file,
                    line,
                    fix="pass --briefs FILE with that brief",
                )
            ]
    message = Message.of({k: obj.get(k) for k in ("text", "title", "body", "cta", "channel") if k in obj})
    language = obj.get("language")
    if language is not None and language not in ("ru", "en"):
        return [Problem(f"language {language!r} is not one of ru, en", file, line, fix="use ru or en, or leave it out")]
    return Item(str(obj.get("id", line)), line, message, brief, language)


def _json_lines(file: str, content: str, problems: list[Problem]) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of every non-blank line; a line that is not JSON becomes a problem."""
    for number, raw in enumerate(content.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(f"not valid JSON: {exc.msg} (column {exc.colno})", file, number, fix="one JSON object per line")
            )


def _plain(file: str, content: str) -> bool:
    """Plain text, one message per line: standard input or a .txt file whose first line is not a CSV
    header with a `text` column (`echo "…" | adsft check -`)."""
    if not (file == "<stdin>" or file.endswith(".txt")):
        return False
    header = next(csv.reader(io.StringIO(content.lstrip().split("\n", 1)[0])), [])
    return "text" not in [h.strip() for h in header]


def read_messages(source: str, briefs: dict[str, Brief] | None = None) -> list[Item]:
    """Every message of a JSONL, CSV or plain-text input; all problems at once as one InputError."""
    file, content = _read_text(source)
    collecting = gc.isenabled()
    gc.disable()  # what is read holds no cycles: the collector's passes over millions of new objects find none
    try:
        return _read_items(file, content, briefs)
    finally:
        if collecting:
            gc.enable()


def _read_items(file: str, content: str, briefs: dict[str, Brief] | None) -> list[Item]:
    briefs = briefs or {}
    interned: dict[str, Brief] = {}
    items: list[Item] = []
    problems: list[Problem] = []
    stripped = content.lstrip()
    if stripped.startswith("{") or file.endswith(".jsonl"):
        for number, obj in _json_lines(file, content, problems):
            found = _item(obj, file, number, briefs, interned)
            (problems.extend if isinstance(found, list) else items.append)(found)  # type: ignore[operator]
    elif _plain(file, content):
        for number, raw in enumerate(content.splitlines(), 1):
            if raw.strip():
                items.append(Item(str(number), number, Message.of({"text": raw.strip()}), None))
    else:
        reader = csv.DictReader(io.StringIO(content))
        if not reader.fieldnames or "text" not in reader.fieldnames:
            raise InputError(
                f"{file}: a CSV input needs a `text` column",
                [Problem(f"columns: {reader.fieldnames}", file, 1)],
                fix="name the column `text`",
            )
        for row in reader:
            number = reader.line_num
            obj = {k: v for k, v in row.items() if k in _MESSAGE_KEYS and v not in (None, "")}
            obj.setdefault("text", row.get("text") or "")
            found = _item(obj, file, number, briefs)
            (problems.extend if isinstance(found, list) else items.append)(found)  # type: ignore[operator]
    if problems:
        raise InputError(f"{file}: {len(problems)} problem(s); nothing was checked", problems)
    return items


@dataclass
class CheckReport:
    results: list[tuple[Item, CheckResult]]

    @property
    def failed(self) -> int:
        return sum(not r.passed for _, r in self.results)

    def per_rule(self) -> Counter[tuple[str, str, str]]:
        counts: Counter[tuple[str, str, str]] = Counter()
        for _, result in self.results:
            for rule in {(v.rule, v.category, v.level) for v in result.violations}:
                counts[rule] += 1
        return counts


_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LETTER = re.compile(r"[^\W\d_]")


def detect_language(text: str) -> str:
    """ru when at least a third of the letters are Cyrillic, else en."""
    letters = len(_LETTER.findall(text))
    return "ru" if letters and len(_CYRILLIC.findall(text)) * 3 >= letters else "en"


class PackChooser:
    """The pack for each message: a fixed one, or with ``auto`` the brief's language, the message's
    ``language`` field, or the language the text is written in, in that order."""

    def __init__(self, name: str, load: Callable[[str], RulePack]) -> None:
        self.name = name
        self._load = load
        self._packs: dict[str, RulePack] = {}
        if name != "auto":  # a fixed pack is loaded, and its problems reported, before any input is read
            self._packs[name] = load(name)

    def for_item(self, item: Item) -> RulePack:
        if self.name != "auto":
            key = self.name
        elif item.brief is not None:
            key = item.brief.language
        else:
            key = item.language or detect_language(item.message.text)
        pack = self._packs.get(key)
        if pack is None:
            pack = self._packs[key] = self._load(key)
        return pack


def check_items(packs: RulePack | PackChooser, items: list[Item], workers: int = 1) -> CheckReport:
    from orchestrator.parallel_check import check_stream

    return CheckReport(list(check_stream(packs, items, workers)))


def iter_json(report: CheckReport) -> Iterator[str]:
    from orchestrator.parallel_check import json_line

    for item, result in report.results:
        yield json_line(item, result)


def read_labelled(paths: list[str]) -> list[dict]:
    """Labelled messages for `adsft rules eval`; every problem at once, with file and line."""
    records: list[dict] = []
    problems: list[Problem] = []
    for path in paths:
        file, content = _read_text(path)
        for number, obj in _json_lines(file, content, problems):
            found = _item(obj, file, number, {}) if isinstance(obj, dict) else [Problem("not an object", file, number)]
            if isinstance(found, list):
                problems.extend(found)
            elif not isinstance(obj.get("expected"), list) or obj.get("language") not in ("ru", "en"):
                problems.append(
                    Problem("needs `language` (ru, en) and `expected` (a list of categories)", file, number)
                )
            else:
                records.append(obj)
    if problems:
        raise InputError(f"{len(problems)} problem(s) in the labelled files; nothing was scored", problems)
    if not records:
        raise InputError("no labelled messages in the files given", fix="pass JSONL files with one message a line")
    return records
