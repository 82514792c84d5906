"""Loading rule packs from YAML: every problem reported at once, each with file, line and rule id.

A pack may ``extends:`` another (a built-in name or a path), ``disable:`` some of its rules by id, and
replace a rule by giving one with the same id.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from rules import cache as pack_cache
from rules import schema
from rules.checks import Check
from rules.checks_text import compile_rule
from rules.errors import PackError, Problem
from rules.pack import RulePack

if TYPE_CHECKING:
    import yaml

PACKS_DIR = Path(__file__).parent / "packs"


@cache
def _rule_adapter() -> TypeAdapter:  # built on the first compile: a load from the cache never needs it
    return TypeAdapter(schema.Rule)


_TOP_KEYS = {"pack", "rules", "extends", "disable"}


def builtin_packs() -> list[str]:
    return sorted(p.stem for p in PACKS_DIR.glob("*.yaml"))


def pack_path(name: str | Path) -> Path:
    if isinstance(name, str) and name in builtin_packs():
        return PACKS_DIR / f"{name}.yaml"
    path = Path(name)
    if not path.is_file():
        raise PackError(
            f"no rule pack {str(name)!r}",
            fix=f"use a built-in pack ({', '.join(builtin_packs())}) or a path to a YAML pack file",
        )
    return path


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PackError(f"cannot read {path}: {exc.strerror}", fix="check the path") from None


def read_yaml(path: Path, data: bytes | None = None) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML and remember the line of every mapping key and sequence item (1-based)."""
    import yaml  # only a pack being compiled is parsed: a load from the cache never needs it

    try:
        text = (_read_bytes(path) if data is None else data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackError(
            f"{path} is not UTF-8 text", [Problem(str(exc), str(path))], fix="save the file as UTF-8"
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = Problem(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", str(path), line)
        raise PackError(f"{path} is not valid YAML", [problem], fix="correct the YAML syntax") from None
    lines: dict[tuple, int] = {}

    def walk(n: yaml.Node | None, where: tuple) -> None:
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                lines[(*where, key.value)] = key.start_mark.line + 1
                walk(value, (*where, key.value))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*where, i)] = item.start_mark.line + 1
                walk(item, (*where, i))

    walk(node, ())
    return data, lines


def _line(lines: dict[tuple, int], loc: tuple) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


def _rule_problems(raw: Any, i: int, file: str, lines: dict[tuple, int]) -> tuple[schema.RuleBase | None, list]:
    where = ("rules", i)
    rule_id = raw.get("id") if isinstance(raw, dict) else None
    label = f"rule {rule_id}" if rule_id else f"rule #{i + 1}"
    if not isinstance(raw, dict):
        return None, [Problem("a rule must be a mapping", file, _line(lines, where), label)]
    kind = raw.get("type")
    if kind not in schema.RULE_TYPES:
        msg = "missing `type`" if kind is None else f"unknown rule type {kind!r}"
        return None, [
            Problem(msg, file, _line(lines, (*where, "type")), label, fix=f"use one of: {', '.join(schema.RULE_TYPES)}")
        ]
    try:
        return _rule_adapter().validate_python(raw), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"][1:]) if err["loc"] and err["loc"][0] == kind else tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "rule"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(f"{field}: {msg}", file, _line(lines, (*where, *loc)), label))
        return None, problems


def load_pack(name: str | Path, use_cache: bool = True) -> RulePack:
    """Load a built-in pack (``"ru"``, ``"en"``) or a YAML file. Raises PackError with every problem.

    A pack compiled before from the same files is read from the cache (see rules.cache)."""
    path = pack_path(name)
    raw = _read_bytes(path)
    if use_cache:
        found = pack_cache.load(path, raw)
        if isinstance(found, RulePack):
            return found
    sources: list[Path] = []
    pack = _compile(path, raw, sources)
    if use_cache:
        pack_cache.store(path, raw, sources, pack)
    return pack


def _compile(path: Path, raw: bytes, sources: list[Path]) -> RulePack:
    """Build a pack from its YAML, and the packs it extends; ``sources`` gets every file read."""
    file = str(path)
    sources.append(path)
    data, lines = read_yaml(path, raw)
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise PackError(
            f"{file} is not a rule pack", [Problem("the top level must be a mapping with `pack` and `rules`", file, 1)]
        )
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(
                Problem(
                    f"unknown top-level key {key!r}",
                    file,
                    _line(lines, (key,)),
                    fix=f"use only: {', '.join(sorted(_TOP_KEYS))}",
                )
            )
    base: RulePack | None = None
    if data.get("extends"):
        base_path = pack_path(
            data["extends"] if data["extends"] in builtin_packs() else path.parent / str(data["extends"])
        )
        base = _compile(base_path, _read_bytes(base_path), sources)
    info_raw = data.get("pack") or ({"id": path.stem, "language": base.language} if base else None)
    info = None
    try:
        info = schema.PackInfo.model_validate(info_raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ("pack", *err["loc"])
            problems.append(
                Problem(f"pack.{'.'.join(map(str, err['loc']))}: {err['msg']}", file, _line(lines, loc) or 1)
            )
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        problems.append(Problem("`rules` must be a list", file, _line(lines, ("rules",))))
        raw_rules = []
    language = info.language if info else "ru"
    checks: list[Check] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        spec, found = _rule_problems(raw, i, file, lines)
        problems.extend(found)
        if spec is None:
            continue
        if spec.id in seen:
            problems.append(Problem(f"duplicate rule id {spec.id!r}", file, _line(lines, ("rules", i)), spec.id))
            continue
        seen.add(spec.id)
        try:
            checks.append(compile_rule(spec, language))
        except ValueError as exc:
            problems.append(Problem(str(exc), file, _line(lines, ("rules", i)), f"rule {spec.id}"))
    if problems or info is None:
        raise PackError(
            f"rule pack {file} has {len(problems)} problem(s)",
            problems,
            fix="correct the lines named above; `adsft rules test PACK` re-checks it",
        )
    if base is not None:
        disabled = set(data.get("disable") or [])
        own = {c.id for c in checks}
        checks = [c for c in base.checks if c.id not in disabled and c.id not in own] + checks
    return RulePack(info, checks, path)
