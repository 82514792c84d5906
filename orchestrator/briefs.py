"""Reading product briefs (JSONL or YAML) with every problem reported at once, by file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from orchestrator.errors import InputError, Problem, as_input_error
from rules.brief import Brief


def problems_from(exc: ValidationError, file: str, line: int | None, where: str | None = None) -> list[Problem]:
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "value"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg, fix = f"unknown field {field!r}", "remove it or check its spelling"
        else:
            msg, fix = f"{field}: {msg}", None
        out.append(Problem(msg, file, line, where, fix))
    return out


def iter_json_lines(path: Path) -> Iterator[tuple[int, object | Problem]]:
    """(line number, parsed object or a Problem) for every non-blank line of a JSONL file, streamed."""
    file = str(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", fix="check the path") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield (
                    number,
                    Problem(
                        f"not UTF-8 ({exc.reason} at byte {exc.start})", file, number, fix="save the file as UTF-8"
                    ),
                )
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as exc:
                yield (
                    number,
                    Problem(
                        f"not valid JSON: {exc.msg} (column {exc.colno})", file, number, fix="one JSON object per line"
                    ),
                )


def load_briefs(path: str | Path) -> dict[str, Brief]:
    """Briefs by id from a JSONL file (one brief per line) or a YAML list."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise InputError(f"no briefs file {file}", fix="pass a JSONL or YAML file of briefs")
    items: list[tuple[int | None, object]] = []
    problems: list[Problem] = []
    if path.suffix in {".yaml", ".yml"}:
        from rules.loader import read_yaml

        with as_input_error():
            data, lines = read_yaml(path)
        if not isinstance(data, list):
            raise InputError(f"{file} must hold a list of briefs")
        items = [(lines.get((i,)), item) for i, item in enumerate(data)]
    else:
        for number, obj in iter_json_lines(path):
            if isinstance(obj, Problem):
                problems.append(obj)
            else:
                items.append((number, obj))
    briefs: dict[str, Brief] = {}
    for line, obj in items:
        if not isinstance(obj, dict):
            problems.append(Problem("a brief must be a JSON object", file, line))
            continue
        try:
            brief = Brief.model_validate(obj)
        except ValidationError as exc:
            problems.extend(problems_from(exc, file, line, str(obj.get("id") or "")))
            continue
        if brief.id in briefs:
            problems.append(Problem(f"duplicate brief id {brief.id!r}", file, line))
        briefs[brief.id] = brief
    if problems:
        raise InputError(f"{file}: {len(problems)} problem(s) in the briefs", problems)
    return briefs


def load_eval(path: str | Path) -> list[tuple[Brief, list[str]]]:
    """The held-out evaluation set: JSONL lines of ``{"brief": {...}, "references": ["...", ...]}``."""
    path = Path(path)
    out: list[tuple[Brief, list[str]]] = []
    problems: list[Problem] = []
    for number, obj in iter_json_lines(path):
        if isinstance(obj, Problem):
            problems.append(obj)
            continue
        if not isinstance(obj, dict) or set(obj) - {"brief", "references"} or "brief" not in obj:
            problems.append(Problem("each line needs `brief` and `references` only", str(path), number))
            continue
        try:
            brief = Brief.model_validate(obj["brief"])
        except ValidationError as exc:
            problems.extend(problems_from(exc, str(path), number, "brief"))
            continue
        refs = obj.get("references") or []
        if not isinstance(refs, list) or not all(isinstance(r, str) and r.strip() for r in refs):
            problems.append(Problem("`references` must be a list of non-empty strings", str(path), number))
            continue
        out.append((brief, refs))
    if problems:
        raise InputError(f"{path}: {len(problems)} problem(s) in the evaluation set", problems)
    return out
