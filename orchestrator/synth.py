"""`adsft synth`: synthetic error-free training examples from product briefs.

briefs -> candidates (message plans rendered from phrase banks, or the older fixed frames; with --teacher,
also a model's replies: orchestrator.teacher) -> language pack + grammar-sanity pack + fact fidelity (keep
clean ones; rejections counted per rule and per plan) -> exact and near-duplicate removal -> representative
subset (k-center, balanced; with a teacher, its share from its replies) -> brief-disjoint stratified
train/validation split -> files in the chosen format, written atomically.
The selected set is audited again (sanity hits, numbers not in the brief: both 0) and its diversity is
measured per language beside the candidates' and a random subset's. Deterministic for a given --seed.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchestrator import teacher as teacher_mode
from orchestrator.briefs import load_briefs
from orchestrator.dedup import deduplicate
from orchestrator.errors import InputError
from orchestrator.formats import format_names, record, write_jsonl
from orchestrator.paths import data_dir
from orchestrator.plans import Generator, load_generator
from orchestrator.prompting import build_prompt
from orchestrator.quality import audit, compare, diversity, sanity_pack
from orchestrator.selection import Selection, select
from orchestrator.synth_judge import Render, judge_all, judged
from orchestrator.teacher import Teacher, TeacherEstimate, TeacherStats
from orchestrator.templates import Candidate, load_library
from rules import Brief, RulePack, load_pack

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Confirm = Callable[[TeacherEstimate], None]  # raises to stop before the teacher's first request
GENERATORS = ("plans", "frames")
PER_VARIANT = 20  # plan renderings per brief for each unit of --variants


@dataclass
class SynthConfig:
    out: Path
    briefs: Path | None = None
    n: int = 2500
    fmt: str = "chat"
    variants: int = 8
    generator: str = "plans"  # plans: compositional phrase banks; frames: the older fixed templates
    near_threshold: float = 0.8
    reject_warnings: bool = False
    val_fraction: float = 0.1
    seed: int = 0
    languages: tuple[str, ...] = ("ru", "en")
    workers: int | None = None  # processes that render and judge (default: the cores available)
    packs: dict[str, str] = field(default_factory=dict)  # language -> pack name or path
    teacher: Teacher | None = None  # a model that writes a share of the examples (the rest: templates)
    prices: str | None = None  # a price file for the teacher's estimate (default: the built-in catalog)


@dataclass
class SynthSummary:
    briefs: int = 0
    candidates: int = 0
    passed: int = 0
    rejected: int = 0
    rejected_by_rule: dict[str, int] = field(default_factory=dict)
    worst_templates: list[dict] = field(default_factory=list)
    exact_duplicates: int = 0
    near_duplicates: int = 0
    after_dedup: int = 0
    selected: int = 0
    train: int = 0
    validation: int = 0
    diversity: dict[str, dict[str, float | None]] = field(default_factory=dict)
    diversity_by_language: dict[str, dict[str, dict]] = field(default_factory=dict)
    sanity_rejected: int = 0
    fidelity_rejected: dict[str, int] = field(default_factory=dict)
    audit: dict[str, dict[str, int]] = field(default_factory=dict)
    coverage: dict[str, float] = field(default_factory=dict)
    balance: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    teacher: TeacherStats | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _renderer(config: SynthConfig, generators: dict[str, Generator]) -> Render:
    """A brief's template candidates, from the plans or the older frames."""
    if config.generator == "frames":
        libraries = {lang: load_library(lang) for lang in config.languages}
        return lambda b: libraries[b.language].candidates(b, config.variants, config.seed)
    count = max(1, config.variants) * PER_VARIANT
    return lambda b: generators[b.language].candidates(b, count, config.seed)


def _expected_replies(briefs: list[Brief], config: SynthConfig, generators: dict[str, Generator]) -> dict[str, str]:
    """One template message per brief: its length stands in for the teacher's reply in the estimate."""
    out = {}
    for b in briefs:
        first = generators[b.language].candidates(b, 1, config.seed)
        out[b.id] = first[0].text if first else ""
    return out


def _sources(
    briefs: list[Brief],
    config: SynthConfig,
    packs: dict[str, RulePack],
    summary: SynthSummary,
    confirm: Confirm | None,
    progress: Progress | None,
) -> list:
    """The judged candidates' sources: the templates (unless the teacher writes everything), then the
    teacher's replies, asked only after the estimate was confirmed."""
    sanity = {lang: sanity_pack(lang) for lang in config.languages}
    needed = config.generator == "plans" or config.teacher is not None  # the estimate reads a plan message
    generators = {lang: load_generator(lang) for lang in config.languages} if needed else {}  # loaded once
    templates = judged(briefs, _renderer(config, generators), packs, sanity, config.reject_warnings, config.workers)
    if config.teacher is None:
        return [templates]
    prepared = teacher_mode.prepare(
        briefs, packs, config.teacher, config.out, _expected_replies(briefs, config, generators), config.prices
    )
    if prepared.estimate.requests and confirm is not None:
        confirm(prepared.estimate)  # raises to stop: nothing has been asked yet
    summary.teacher = TeacherStats()
    replies = teacher_mode.candidates(prepared, summary.teacher, progress)
    taught = ((b, judge_all(b, c, packs[b.language], sanity[b.language], config.reject_warnings)) for b, c in replies)
    return [templates, taught] if config.teacher.share < 1.0 else [taught]


def _generate(
    briefs: list[Brief], summary: SynthSummary, sources: list, progress: Progress | None
) -> list[tuple[Candidate, Brief]]:
    """Every judged candidate counted (rejections per rule and per template); the clean ones kept."""
    clean: list[tuple[Candidate, Brief]] = []
    rules: Counter[str] = Counter()
    fidelity: Counter[str] = Counter()
    per_template: Counter[str] = Counter()
    rejected_template: Counter[str] = Counter()
    total = len(briefs) * len(sources)
    for done, (brief, pairs) in enumerate((pair for source in sources for pair in source), 1):
        for cand, verdict in pairs:
            summary.candidates += 1
            per_template[cand.template_id] += 1
            if verdict.clean:
                clean.append((cand, brief))
                continue
            rejected_template[cand.template_id] += 1
            rules.update(verdict.rules)
            summary.sanity_rejected += bool(verdict.sanity)
            fidelity["number_not_in_brief"] += bool(verdict.foreign)
            fidelity["required_fact_missing"] += bool(verdict.missing)
        if progress:
            progress("generate + check", done, total)
    summary.passed = len(clean)
    summary.rejected = summary.candidates - summary.passed
    summary.rejected_by_rule = dict(rules.most_common())
    summary.fidelity_rejected = dict(fidelity)
    rates = sorted(((rejected_template[t] / per_template[t], t) for t in per_template), reverse=True)
    summary.worst_templates = [
        {"template": t, "rejected_share": round(r, 3), "candidates": per_template[t]} for r, t in rates[:5] if r > 0
    ]
    return clean


def _split(chosen: list[tuple[Candidate, Brief]], fraction: float, seed: int) -> tuple[list, list]:
    """Brief-disjoint, stratified by language x channel x category: whole briefs go to validation."""
    rng = random.Random(seed)
    by_stratum: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for cand, brief in chosen:
        by_stratum[f"{brief.language}/{brief.channel}/{brief.category}"][brief.id].append((cand, brief))
    train, val = [], []
    for stratum in sorted(by_stratum):
        groups = by_stratum[stratum]
        ids = sorted(groups)
        rng.shuffle(ids)
        total = sum(len(groups[i]) for i in ids)
        target = fraction * total
        taken = 0
        for i, brief_id in enumerate(ids):
            size = len(groups[brief_id])
            # a brief goes to validation when that brings the stratum closer to its share
            if i < len(ids) - 1 and abs(taken + size - target) < abs(taken - target):
                val.extend(groups[brief_id])
                taken += size
            else:
                train.extend(groups[brief_id])
    return train, val


def _select(unique: list, config: SynthConfig, summary: SynthSummary) -> tuple[list, Selection]:
    """k-center per stratum; with a teacher, its share of the n from its replies and the rest from the
    templates (either fills in where the other has too few)."""
    pools: list[tuple[list, int]]
    if config.teacher is None:
        pools = [(unique, config.n)]
    else:
        taught = [x for x in unique if x[0].structure == "teacher"]
        rest = [x for x in unique if x[0].structure != "teacher"]
        want = min(len(taught), max(config.n - len(rest), round(config.n * config.teacher.share)))
        pools = [(taught, want), (rest, config.n - want)]
    chosen: list = []
    parts: list[tuple[Selection, int]] = []
    for pool, k in pools:
        if k <= 0 or not pool:
            continue
        s = select(
            [c.text for c, _ in pool],
            [f"{b.language}/{b.channel}/{b.category}" for _, b in pool],
            [b.id for _, b in pool],
            k,
            config.seed,
        )
        chosen.extend(pool[i] for i in s.indices)
        parts.append((s, len(pool)))
    if summary.teacher is not None:
        summary.teacher.clean = sum(1 for c, _ in unique if c.structure == "teacher")
        summary.teacher.selected = sum(1 for c, _ in chosen if c.structure == "teacher")
    return chosen, _merged(parts)


def _merged(parts: list[tuple[Selection, int]]) -> Selection:
    """One coverage figure for selections made pool by pool: means weighted by pool size, radii maxed."""
    if not parts:
        return Selection([], 0.0, 0.0, 0.0, 0.0)
    if len(parts) == 1:
        return parts[0][0]
    size = sum(n for _, n in parts)
    return Selection(
        [],
        sum(s.coverage_mean * n for s, n in parts) / size,
        max(s.coverage_max for s, _ in parts),
        sum(s.random_mean * n for s, n in parts) / size,
        max(s.random_max for s, _ in parts),
    )


def _diversity(texts: list[str], seed: int) -> dict[str, float | int | None]:
    return diversity(texts, seed)


def synthesize(config: SynthConfig, progress: Progress | None = None, confirm: Confirm | None = None) -> SynthSummary:
    if config.fmt not in (names := format_names()):
        raise InputError(f"unknown format {config.fmt!r}", fix=f"use one of: {', '.join(names)}")
    if config.n < 1:
        raise InputError("--n must be at least 1")
    if config.generator not in GENERATORS:
        raise InputError(f"unknown generator {config.generator!r}", fix=f"use one of: {', '.join(GENERATORS)}")
    summary = SynthSummary()
    clock = time.perf_counter()
    all_briefs = load_briefs(config.briefs or data_dir() / "briefs" / "catalog.jsonl")
    briefs = [b for b in all_briefs.values() if b.language in config.languages]
    if not briefs:
        raise InputError(f"no briefs in languages {config.languages}", fix="check --language and --briefs")
    summary.briefs = len(briefs)
    packs = {lang: load_pack(config.packs.get(lang, lang)) for lang in config.languages}
    sources = _sources(briefs, config, packs, summary, confirm, progress)
    clean = _generate(briefs, summary, sources, progress)
    summary.seconds["generate_check"] = round(time.perf_counter() - clock, 2)

    clock = time.perf_counter()
    dedup = deduplicate([c.text for c, _ in clean], config.near_threshold, seed=config.seed + 1)
    unique = [clean[i] for i in dedup.keep]
    summary.exact_duplicates, summary.near_duplicates, summary.after_dedup = dedup.exact, dedup.near, len(unique)
    summary.seconds["dedup"] = round(time.perf_counter() - clock, 2)

    clock = time.perf_counter()
    chosen, selection = _select(unique, config, summary)
    summary.selected = len(chosen)
    summary.coverage = {
        "mean_distance": round(selection.coverage_mean, 4),
        "radius": round(selection.coverage_max, 4),
        "random_mean_distance": round(selection.random_mean, 4),
        "random_radius": round(selection.random_max, 4),
    }
    summary.seconds["select"] = round(time.perf_counter() - clock, 2)

    clock = time.perf_counter()
    _measure(summary, unique, chosen, config)
    train, val = _split(chosen, config.val_fraction, config.seed)
    summary.train, summary.validation = len(train), len(val)
    summary.files = _write(config, packs, train, val)
    summary.seconds["report_write"] = round(time.perf_counter() - clock, 2)
    return summary


def _measure(summary: SynthSummary, unique: list, chosen: list, config: SynthConfig) -> None:
    """Diversity before and after selection (overall, and per language beside a random subset), the audit
    of the selected set, and its balance."""
    summary.diversity = {
        "before": _diversity([c.text for c, _ in unique], config.seed),
        "after": _diversity([c.text for c, _ in chosen], config.seed),
    }
    summary.diversity_by_language = compare(
        [(c.text, b.language) for c, b in unique], [(c.text, b.language) for c, b in chosen], config.seed
    )
    summary.audit = audit([(c.text, b) for c, b in chosen], {lang: sanity_pack(lang) for lang in config.languages})
    for key in ("language", "channel", "category", "segment"):
        summary.balance[key] = dict(Counter(getattr(b, key) for _, b in chosen).most_common())


def _write(config: SynthConfig, packs: dict[str, RulePack], train: list, val: list) -> dict[str, str]:
    files = {}
    meta = []
    for split, rows in (("train", train), ("val", val)):
        path = config.out / f"{split}.jsonl"
        records = []
        for line, (cand, brief) in enumerate(rows, 1):
            chat = [*build_prompt(brief, packs[brief.language]), {"role": "assistant", "content": cand.text}]
            records.append(record(chat, config.fmt))
            meta.append({"split": split, "line": line, "brief_id": brief.id, "template": cand.template_id})
        write_jsonl(path, records)
        files[split] = str(path)
    files["meta"] = str(config.out / "examples.meta.jsonl")
    write_jsonl(Path(files["meta"]), meta)
    return files
