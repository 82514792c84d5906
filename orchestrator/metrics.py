"""Reference-based and diversity metrics for scored messages.

- BLEU and chrF: sacrebleu (its signature is reported with the score).
- ROUGE-1/2/L: rouge-score with a Unicode word tokenizer (its default tokenizer drops Cyrillic).
- METEOR: our own implementation with exact and stem matching only (WordNet synonyms need data that is
  not available offline), labelled "METEOR (exact+stem)".
- CIDEr-D: our own implementation (TF-IDF n-grams 1-4 over the references, clipping, Gaussian length
  penalty, x10), labelled as such.
- distinct-n and self-BLEU for diversity.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from orchestrator.selection import distinct_n, self_bleu

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class _UnicodeTokenizer:
    def tokenize(self, text: str) -> list[str]:
        return words(text)


def _stem(word: str) -> str:
    """A light suffix-stripping stem for Russian and English (enough to match inflections)."""
    for suffix in (
        "иями",
        "ями",
        "ами",
        "ого",
        "его",
        "ому",
        "ему",
        "ыми",
        "ими",
        "ая",
        "яя",
        "ое",
        "ее",
        "ые",
        "ие",
        "ий",
        "ый",
        "ой",
        "ов",
        "ев",
        "ам",
        "ям",
        "ах",
        "ях",
        "ом",
        "ем",
        "ы",
        "и",
        "а",
        "я",
        "у",
        "ю",
        "е",
        "о",
        "ing",
        "ed",
        "es",
        "s",
    ):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def meteor(hypothesis: str, reference: str, alpha: float = 0.9, beta: float = 3.0, gamma: float = 0.5) -> float:
    """METEOR with exact, then stem, unigram matching and the fragmentation penalty."""
    hyp, ref = words(hypothesis), words(reference)
    if not hyp or not ref:
        return 0.0
    used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for stage in (lambda w: w, _stem):
        for i, h in enumerate(hyp):
            if any(p[0] == i for p in pairs):
                continue
            for j, r in enumerate(ref):
                if j not in used and stage(h) == stage(r):
                    pairs.append((i, j))
                    used.add(j)
                    break
    m = len(pairs)
    if m == 0:
        return 0.0
    precision, recall = m / len(hyp), m / len(ref)
    fmean = precision * recall / (alpha * precision + (1 - alpha) * recall)
    pairs.sort()
    chunks = 1 + sum(1 for (a, b), (c, d) in itertools.pairwise(pairs) if not (c == a + 1 and d == b + 1))
    return fmean * (1 - gamma * (chunks / m) ** beta)


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def cider_d(hypotheses: Sequence[str], references: Sequence[Sequence[str]], sigma: float = 6.0) -> float:
    """CIDEr-D over a corpus (document frequencies from the references)."""
    refs_tokens = [[words(r) for r in refs] for refs in references]
    hyps_tokens = [words(h) for h in hypotheses]
    count = len(references)
    scores = np.zeros(len(hypotheses))
    for n in range(1, 5):
        df: Counter[tuple[str, ...]] = Counter()
        for refs in refs_tokens:
            df.update({g for r in refs for g in _ngrams(r, n)})

        def vec(tokens: list[str], n: int = n, df: Counter = df) -> tuple[dict, float]:
            grams = _ngrams(tokens, n)
            v = {g: tf * math.log(max(1.0, count) / max(1.0, df[g])) for g, tf in grams.items()}
            return v, math.sqrt(sum(x * x for x in v.values()))

        for i, (hyp, refs) in enumerate(zip(hyps_tokens, refs_tokens, strict=True)):
            hv, hn = vec(hyp)
            total = 0.0
            for ref in refs:
                rv, rn = vec(ref)
                dot = sum(min(hv[g], rv[g]) * rv[g] for g in hv if g in rv)  # clipped (the "-D")
                penalty = math.exp(-((len(hyp) - len(ref)) ** 2) / (2 * sigma**2))
                total += penalty * dot / (hn * rn) if hn and rn else 0.0
            scores[i] += total / max(1, len(refs)) / 4
    return float(scores.mean() * 10) if len(scores) else 0.0


def reference_metrics(hypotheses: list[str], references: list[list[str]]) -> dict:
    """Corpus-level scores of hypotheses against their reference messages."""
    out: dict = {"count": len(hypotheses)}
    if not hypotheses:
        return out
    try:
        from sacrebleu.metrics import BLEU, CHRF

        width = max(len(r) for r in references)
        streams = [[refs[i] if i < len(refs) else refs[0] for refs in references] for i in range(width)]
        bleu, chrf = BLEU(tokenize="intl"), CHRF()
        out["bleu"] = round(bleu.corpus_score(hypotheses, streams).score, 2)
        out["bleu_signature"] = str(bleu.get_signature())
        out["chrf"] = round(chrf.corpus_score(hypotheses, streams).score, 2)
        out["chrf_signature"] = str(chrf.get_signature())
    except ImportError:
        out["bleu"] = out["chrf"] = None
    try:
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_UnicodeTokenizer())
        agg = Counter()
        for hyp, refs in zip(hypotheses, references, strict=True):
            best = {k: max(scorer.score(r, hyp)[k].fmeasure for r in refs) for k in ("rouge1", "rouge2", "rougeL")}
            agg.update(best)
        out.update({k: round(100 * v / len(hypotheses), 2) for k, v in agg.items()})
    except ImportError:
        pass
    out["meteor_exact_stem"] = round(
        100 * float(np.mean([max(meteor(h, r) for r in refs) for h, refs in zip(hypotheses, references, strict=True)])),
        2,
    )
    out["cider_d"] = round(cider_d(hypotheses, references), 3)
    out["distinct_1"] = round(distinct_n(hypotheses, 1), 4)
    out["distinct_2"] = round(distinct_n(hypotheses, 2), 4)
    out["self_bleu"] = round(self_bleu(hypotheses) or 0.0, 2)
    return out
