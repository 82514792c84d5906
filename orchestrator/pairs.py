"""`adsft pairs`: preference (DPO) pairs from scoring runs - the rules' verdicts become the training signal.

Every scoring run holds, for each brief, attempts that passed every rule and attempts that did not, with the
rules they broke. For each brief a passing attempt is paired with a failing one (failures that break more
rules first; with `rule`, only failures that broke one of the named rules), at most `max_per_prompt` pairs a
brief, no pair twice. A brief where no attempt passed is paired with a clean example written for that brief
(its references in the run's evaluation file, or a synthetic set's examples), checked against the rules
again first. Briefs, not pairs, are split between training and validation, so no prompt is in both.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchestrator.briefs import load_eval
from orchestrator.errors import InputError
from orchestrator.formats import write_jsonl
from orchestrator.paths import data_dir
from orchestrator.prompting import build_prompt
from orchestrator.runs import load_run
from rules import Brief, RulePack, load_pack

NO_TEXT = {"provider error", "empty"}  # bad outputs with nothing to learn from


@dataclass
class PairsConfig:
    runs: list[Path]
    out: Path
    val_out: Path | None = None  # default: <out stem>.val.jsonl beside `out`
    rules: tuple[str, ...] = ()  # only failures that broke one of these rules
    max_per_prompt: int = 2
    val_fraction: float = 0.1
    synthetic: Path | None = None  # a folder written by `adsft synth` (train/val.jsonl + examples.meta.jsonl)
    seed: int = 0


@dataclass
class PairsSummary:
    runs: int = 0
    briefs: int = 0
    briefs_with_pairs: int = 0
    pairs: int = 0
    train: int = 0
    validation: int = 0
    from_attempts: int = 0  # the preferred message is an attempt that passed
    from_synthetic: int = 0  # no attempt passed: the preferred message is a clean example for the brief
    duplicates: int = 0
    briefs_without_failure: int = 0  # every attempt passed: nothing to prefer against
    briefs_without_clean: int = 0  # nothing passed and no clean example for the brief
    per_rule: dict[str, int] = field(default_factory=dict)  # rule (or bad output) the rejected message broke
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Failure:
    text: str
    broken: tuple[str, ...]  # rule ids, or `output:<reason>` for a bad output


@dataclass
class Candidates:
    """What the runs hold for one brief."""

    brief: Brief
    passed: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)


def _failure(attempt: dict) -> Failure | None:
    text = (attempt.get("text") or "").strip()
    reason = attempt.get("reason")
    if not text or (reason and reason.split(":")[0] in NO_TEXT):
        return None
    if reason:
        return Failure(text, (f"output:{reason.split(':')[0]}",))
    return Failure(text, tuple(sorted({v["rule"] for v in attempt.get("violations", [])})))


def collect(runs: Iterable[Path]) -> dict[str, Candidates]:
    """Passing and failing attempts per brief, over every run (distinct texts, in the order they came)."""
    found: dict[str, Candidates] = {}
    for run in runs:
        meta, by_brief = load_run(run)
        evaluation = {b.id: b for b, _ in load_eval(meta.get("eval_file") or data_dir() / "briefs" / "eval.jsonl")}
        for brief_id, attempts in by_brief.items():
            brief = evaluation.get(brief_id)
            if brief is None:
                raise InputError(
                    f"{run}: brief {brief_id!r} is not in the run's evaluation file",
                    fix="keep the evaluation file the run was scored on where run.json says it is",
                )
            slot = found.setdefault(brief_id, Candidates(brief))
            for a in attempts:
                text = (a.get("text") or "").strip()
                if a.get("passed") and text and text not in slot.passed:
                    slot.passed.append(text)
                elif not a.get("passed"):
                    failure = _failure(a)
                    if failure and all(f.text != failure.text for f in slot.failed):
                        slot.failed.append(failure)
    return found


def clean_examples(runs: Iterable[Path], synthetic: Path | None) -> dict[str, list[str]]:
    """Clean messages written for each brief: the references of the runs' evaluation files, and the examples
    of a synthetic set (by brief id, from its examples.meta.jsonl)."""
    out: dict[str, list[str]] = {}
    for run in runs:
        meta, _ = load_run(run)
        for brief, refs in load_eval(meta.get("eval_file") or data_dir() / "briefs" / "eval.jsonl"):
            out.setdefault(brief.id, []).extend(r for r in refs if r not in out.get(brief.id, []))
    if synthetic is not None:
        meta_path = synthetic / "examples.meta.jsonl"
        if not meta_path.is_file():
            raise InputError(f"{synthetic} is not a synthetic set", fix="pass a folder written by `adsft synth`")
        lines: dict[str, list[str]] = {}
        for split in ("train", "val"):
            path = synthetic / f"{split}.jsonl"
            lines[split] = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        for raw in meta_path.read_text(encoding="utf-8").splitlines():
            if not raw.strip():
                continue
            row = json.loads(raw)
            text = _assistant_text(json.loads(lines[row["split"]][row["line"] - 1]))
            if text and text not in out.get(row["brief_id"], []):
                out.setdefault(row["brief_id"], []).append(text)
    return out


def _assistant_text(example: dict) -> str | None:
    if "messages" in example:
        last = example["messages"][-1]
        return last.get("content") if last.get("role") == "assistant" else None
    return example.get("completion")


def _ranked(failures: list[Failure], rules: tuple[str, ...]) -> list[Failure]:
    chosen = [f for f in failures if not rules or set(f.broken) & set(rules)]
    return sorted(chosen, key=lambda f: -len(f.broken))  # stable: ties keep the order they came in


def _record(prompt: list[dict], preferred: str, rejected: str) -> dict:
    return {
        "input": {"messages": prompt},
        "preferred_output": [{"role": "assistant", "content": preferred}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }


def _split(brief_ids: list[str], fraction: float, seed: int) -> set[str]:
    """The briefs whose pairs go to validation: a seeded share of whole briefs (none below 10 briefs)."""
    ids = sorted(brief_ids)
    random.Random(seed).shuffle(ids)
    count = round(fraction * len(ids)) if len(ids) >= 10 else 0
    return set(ids[:count])


def make_pairs(config: PairsConfig) -> PairsSummary:
    if not config.runs:
        raise InputError("name at least one scoring run", fix="adsft pairs RUN [RUN...] --out pairs.jsonl")
    if config.max_per_prompt < 1:
        raise InputError("--max-per-prompt must be at least 1")
    if not 0 <= config.val_fraction < 1:
        raise InputError("--val-fraction must be in [0, 1)")
    summary = PairsSummary(runs=len(config.runs))
    found = collect(config.runs)
    clean = clean_examples(config.runs, config.synthetic)
    packs: dict[str, RulePack] = {}
    rows: dict[str, list[dict]] = {}
    seen: set[str] = set()
    per_rule: Counter[str] = Counter()
    summary.briefs = len(found)
    for brief_id, slot in sorted(found.items()):
        failures = _ranked(slot.failed, config.rules)
        if not failures:
            summary.briefs_without_failure += not slot.failed
            continue
        preferred, synthetic = slot.passed, False
        if not preferred:
            pack = packs.setdefault(slot.brief.language, load_pack(slot.brief.language))
            preferred = [t for t in clean.get(brief_id, []) if pack.check(t, slot.brief).passed]
            synthetic = True
        if not preferred:
            summary.briefs_without_clean += 1
            continue
        prompt = build_prompt(slot.brief, packs.setdefault(slot.brief.language, load_pack(slot.brief.language)))
        for number, failure in enumerate(failures[: config.max_per_prompt]):
            chosen = preferred[number % len(preferred)]
            key = hashlib.sha256(json.dumps([prompt, chosen, failure.text], ensure_ascii=False).encode()).hexdigest()
            if key in seen or chosen == failure.text:
                summary.duplicates += 1
                continue
            seen.add(key)
            rows.setdefault(brief_id, []).append(_record(prompt, chosen, failure.text))
            per_rule.update(failure.broken)
            summary.pairs += 1
            summary.from_synthetic += synthetic
            summary.from_attempts += not synthetic
    if not summary.pairs:
        raise InputError(
            f"no preference pairs in {len(config.runs)} run(s): "
            f"{summary.briefs_without_failure} brief(s) never failed, {summary.briefs_without_clean} never passed "
            "and have no clean example",
            fix="score with a higher --k or --samples, drop --rule, or pass --synthetic DATA_FOLDER",
        )
    validation = _split(list(rows), config.val_fraction, config.seed)
    train = [r for b in sorted(rows) if b not in validation for r in rows[b]]
    val = [r for b in sorted(rows) if b in validation for r in rows[b]]
    summary.briefs_with_pairs = len(rows)
    summary.train, summary.validation = len(train), len(val)
    summary.per_rule = dict(per_rule.most_common())
    write_jsonl(config.out, train)
    summary.files["train"] = str(config.out)
    if val:
        val_out = config.val_out or config.out.with_name(f"{config.out.stem}.val{config.out.suffix or '.jsonl'}")
        write_jsonl(val_out, val)
        summary.files["validation"] = str(val_out)
    return summary
