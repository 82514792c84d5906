"""What synth checks on every message beyond the language pack, and how it measures the set.

- The grammar-sanity pack of the language (datasets/templates/grammar_<lang>.yaml, a rule pack of its
  own, applied on top of the language pack): any hit rejects the message.
- Fact fidelity (orchestrator.fidelity): a number not in the brief, or a required fact left out,
  rejects the message.
- Diversity per language: distinct words, distinct-1, distinct-2 and self-BLEU, for the candidates
  before selection, the selected set and a random subset of the same size.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import fidelity
from orchestrator.paths import data_dir
from orchestrator.selection import self_bleu
from rules import Brief, RulePack, load_pack
from rules.text import words_of


def sanity_pack(language: str, folder: Path | None = None) -> RulePack | None:
    """The grammar-sanity pack of a language, or None when the language has none."""
    path = (folder or data_dir() / "templates") / f"grammar_{language}.yaml"
    return load_pack(path) if path.is_file() else None


@dataclass
class Verdict:
    rules: list[str] = field(default_factory=list)  # ids of the blocking rules (language, sanity, fidelity)
    sanity: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.rules


def judge(text: str, brief: Brief, pack: RulePack, sanity: RulePack | None, reject_warnings: bool = False) -> Verdict:
    """Every reason to reject a candidate: the language pack's blocking rules, sanity hits, fidelity."""
    verdict = Verdict()
    result = pack.check(text, brief)
    blocking = result.violations if reject_warnings else result.errors
    verdict.rules = sorted({v.rule for v in blocking if v.level != "suggestion"})
    if sanity is not None:
        verdict.sanity = sorted({v.rule for v in sanity.check(text, brief).violations if v.level != "suggestion"})
    facts = fidelity.check(text, brief)
    verdict.foreign, verdict.missing = facts.foreign, facts.missing
    verdict.rules += verdict.sanity
    verdict.rules += ["fidelity.number_not_in_brief"] if facts.foreign else []
    verdict.rules += ["fidelity.required_fact_missing"] if facts.missing else []
    return verdict


def audit(rows: Sequence[tuple[str, Brief]], packs: dict[str, RulePack | None]) -> dict[str, dict[str, int]]:
    """Sanity hits and fidelity failures in a final set, per language (all zero for synth's output)."""
    out: dict[str, dict[str, int]] = {}
    for text, brief in rows:
        counts = out.setdefault(
            brief.language, {"examples": 0, "sanity_hits": 0, "numbers_not_in_brief": 0, "required_missing": 0}
        )
        counts["examples"] += 1
        sanity = packs.get(brief.language)
        if sanity is not None:
            counts["sanity_hits"] += len(sanity.check(text, brief).violations)
        facts = fidelity.check(text, brief)
        counts["numbers_not_in_brief"] += len(facts.foreign)
        counts["required_missing"] += len(facts.missing)
    return out


def diversity(texts: Sequence[str], seed: int, repeats: int = 10, sample: int = 100) -> dict[str, float | int | None]:
    """Distinct words, distinct-1/2, and self-BLEU (lower: more diverse) as the mean over `repeats`
    samples of `sample` texts: one sample of 100 moves by several points from seed to seed."""
    tokens = [words_of(t) for t in texts]
    unigrams = sum(len(w) for w in tokens)
    bigrams = {g for w in tokens for g in itertools.pairwise(w)}
    total_bigrams = sum(max(0, len(w) - 1) for w in tokens)
    words = {w for ws in tokens for w in ws}
    bleus = [self_bleu(texts, sample=sample, seed=seed + r) for r in range(repeats)] if texts else []
    return {
        "texts": len(texts),
        "distinct_words": len(words),
        "distinct_1": round(len(words) / unigrams, 4) if unigrams else 0.0,
        "distinct_2": round(len(bigrams) / total_bigrams, 4) if total_bigrams else 0.0,
        "self_bleu": None if not bleus or bleus[0] is None else round(sum(bleus) / len(bleus), 2),  # type: ignore[arg-type]
    }


def compare(
    before: Sequence[tuple[str, str]], chosen: Sequence[tuple[str, str]], seed: int
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Per language ((text, language) pairs): diversity before selection, after it, and of a random
    subset of the candidates of the same size as the selection."""
    rng = random.Random(seed)
    out = {}
    for lang in sorted({lang for _, lang in before}):
        pool = [t for t, x in before if x == lang]
        mine = [t for t, x in chosen if x == lang]
        rand = rng.sample(pool, min(len(mine), len(pool)))
        out[lang] = {
            "before": diversity(pool, seed),
            "after": diversity(mine, seed),
            "random": diversity(rand, seed),
        }
    return out
