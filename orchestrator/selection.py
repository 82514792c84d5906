"""Representative subset selection and diversity measures.

Texts become hashed feature vectors: character trigrams (signed feature hashing, L2-normalised) beside
IDF-weighted word unigrams and bigrams (a rare wording weighs more than a common one). Selection runs
inside strata (language x channel x category) whose quotas follow their sizes, with a cap per brief so
products and segments are all represented: a fifth of a stratum's picks by k-median greedy (each lowers
the total distance to the nearest pick the most), the rest by k-center greedy (each is the text farthest
from everything picked so far). With character trigrams alone, farthest-first picks lost to a random
subset on mean coverage and k-median alone lost on diversity; with the word features and this split the
selection beats a random subset on mean coverage, radius, distinct words, distinct-2 and self-BLEU
(every synth run reports all of them; bench/bench_synth.py too). Coverage is the distance from every
candidate to its nearest pick: reported for our picks and for a random subset of the same size.
"""

from __future__ import annotations

import itertools
import math
import random
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rules.text import normalise, words_of

DIM = 512
WORD_DIM = 512
WORD_WEIGHT = 1.5  # the word half's weight beside the character half


def vectors(texts: Sequence[str], dim: int = DIM, word_dim: int | None = None) -> np.ndarray:
    """Character trigrams (how a text reads) beside IDF-weighted word unigrams and bigrams (what it says,
    a rare wording weighing more than a common one), each half L2-normalised."""
    word_dim = WORD_DIM if word_dim is None else word_dim
    if not word_dim:
        return _char_vectors(texts, dim)
    both = np.hstack([_char_vectors(texts, dim), WORD_WEIGHT * _word_vectors(texts, word_dim)])
    return both / np.maximum(np.linalg.norm(both, axis=1, keepdims=True), 1e-9)


def _word_vectors(texts: Sequence[str], dim: int) -> np.ndarray:
    grams = []
    for text in texts:
        words = words_of(text)
        grams.append({zlib.crc32(g.encode()) for g in (*words, *(" ".join(p) for p in itertools.pairwise(words)))})
    df: Counter[int] = Counter(h for g in grams for h in g)
    n = max(1, len(texts))
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, hashes in enumerate(grams):
        for h in hashes:
            out[row, h % dim] += (1.0 if (h >> 16) & 1 else -1.0) * math.log(n / df[h])
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _char_vectors(texts: Sequence[str], dim: int) -> np.ndarray:
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        codes = np.frombuffer(f" {normalise(text)} ".encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        if len(codes) < 3:
            continue
        h = codes[:-2] * 1_000_003 * 1_000_003 + codes[1:-1] * 1_000_003 + codes[2:]
        h = (h ^ (h >> 17)) * 0x9E3779B1 & 0xFFFFFFFF
        idx = (h % dim).astype(np.int64)
        sign = np.where((h >> 20) & 1, 1.0, -1.0).astype(np.float32)
        np.add.at(out[row], idx, sign)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


CENTER_SHARE = 0.8  # share of each stratum's picks made farthest-first (the rest: k-median greedy)
_MEDIAN_MAX = 5000  # above this many texts in a stratum the n x n distances are skipped: farthest-first only
_MEDIAN_POOL = 256  # candidates whose k-median gain is computed at each step (stochastic greedy)


def _median_then_center(
    vecs: np.ndarray, k: int, groups: Sequence[str], cap: int, rng: random.Random
) -> tuple[list[int], np.ndarray]:
    """k-median greedy, then k-center greedy. Each of the first picks is the text that lowers the total
    distance from every text to its nearest pick the most (the set covers where the texts are dense:
    mean coverage); each of the later ones is the text farthest from every pick so far (outliers get a
    representative: the radius, and diversity). At most `cap` picks per group (brief)."""
    n = len(vecs)
    if k >= n:
        return list(range(n)), np.zeros(n, dtype=np.float32)
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    dists = 1.0 - vecs @ vecs.T if n <= _MEDIAN_MAX else None
    by_median = round(k * (1 - CENTER_SHARE)) if dists is not None else 0
    dist = np.full(n, 2.0, dtype=np.float32)  # cosine distance never exceeds 2
    blocked = np.zeros(n, dtype=bool)
    picked: list[int] = []
    taken: Counter[str] = Counter()
    while len(picked) < k:
        if dists is not None and len(picked) < by_median:
            # stochastic greedy: the gain of a random sample of the open texts, not of all of them
            score = np.full(n, -np.inf, dtype=np.float32)
            open_ = np.flatnonzero(~blocked)
            pool = open_ if len(open_) <= _MEDIAN_POOL else np.array(rng.sample(open_.tolist(), _MEDIAN_POOL))
            score[pool] = np.maximum(dist[:, None] - dists[:, pool], 0).sum(axis=0)
        elif picked:
            score = dist.copy()
        else:
            score = np.zeros(n, dtype=np.float32)
            score[rng.randrange(n)] = 1.0
        score[blocked] = -np.inf
        nxt = int(np.argmax(score))
        if not np.isfinite(score[nxt]):
            break
        picked.append(nxt)
        blocked[nxt] = True
        taken[groups[nxt]] += 1
        if taken[groups[nxt]] >= cap:
            blocked[members[groups[nxt]]] = True
        dist = np.minimum(dist, dists[:, nxt] if dists is not None else 1.0 - vecs @ vecs[nxt])
    return picked, dist


@dataclass
class Selection:
    indices: list[int]
    coverage_mean: float  # mean distance of a candidate to its nearest pick (lower: better covered)
    coverage_max: float  # the k-center radius
    random_mean: float  # the same for a random subset of the same size
    random_max: float


def _quotas(sizes: dict[str, int], k: int) -> dict[str, int]:
    total = sum(sizes.values())
    raw = {s: k * n / total for s, n in sizes.items()}
    quotas = {s: min(sizes[s], math.floor(v)) for s, v in raw.items()}
    rest = sorted(sizes, key=lambda s: raw[s] - math.floor(raw[s]), reverse=True)
    for s in rest:
        if sum(quotas.values()) >= k:
            break
        if quotas[s] < sizes[s]:
            quotas[s] += 1
    return quotas


def select(texts: Sequence[str], strata: Sequence[str], groups: Sequence[str], k: int, seed: int = 0) -> Selection:
    """Choose k representative texts: k-center greedy per stratum, at most ~2x an even share per group."""
    rng = random.Random(seed)
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(strata):
        by_stratum[s].append(i)
    quotas = _quotas({s: len(ix) for s, ix in by_stratum.items()}, min(k, len(texts)))
    picked: list[int] = []
    dists: list[np.ndarray] = []
    rand_dists: list[np.ndarray] = []
    for stratum in sorted(by_stratum):
        ix = by_stratum[stratum]
        q = quotas[stratum]
        if q == 0:
            continue
        vecs = vectors([texts[i] for i in ix])
        local_groups = [groups[i] for i in ix]
        cap = max(1, math.ceil(2 * q / max(1, len(set(local_groups)))))
        chosen, dist = _median_then_center(vecs, q, local_groups, cap, rng)
        picked.extend(ix[c] for c in chosen)
        dists.append(dist)
        rand = rng.sample(range(len(ix)), min(q, len(ix)))
        rand_dists.append((1.0 - vecs @ vecs[rand].T).min(axis=1))
    all_d = np.concatenate(dists) if dists else np.zeros(1)
    all_r = np.concatenate(rand_dists) if rand_dists else np.zeros(1)
    return Selection(sorted(picked), float(all_d.mean()), float(all_d.max()), float(all_r.mean()), float(all_r.max()))


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of the texts' words."""
    total, seen = 0, set()
    for text in texts:
        words = words_of(text)
        grams = list(zip(*(words[i:] for i in range(n)), strict=False))
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def self_bleu(texts: Sequence[str], sample: int = 100, seed: int = 0) -> float | None:
    """Mean BLEU of each sampled text against the other sampled texts (lower: more diverse), as sacrebleu's
    sentence BLEU (intl tokenizer, effective order, exp smoothing) scores it. None when sacrebleu is not
    installed. Each text is tokenized once and the references' n-gram maxima are shared, so the cost
    grows with the sample, not with its square."""
    try:
        from sacrebleu.metrics import BLEU
        from sacrebleu.metrics.helpers import extract_all_word_ngrams
    except ImportError:
        return None
    rng = random.Random(seed)
    chosen = rng.sample(list(texts), min(sample, len(texts)))
    if len(chosen) < 2:
        return 0.0
    bleu = BLEU(effective_order=True, tokenize="intl")
    grams, lens = [], []
    for text in chosen:
        counts, length = extract_all_word_ngrams(bleu._preprocess_segment(text), 1, bleu.max_ngram_order)
        grams.append(counts)
        lens.append(length)
    best: dict[tuple, list] = {}  # n-gram -> [top count, its text, second count]
    for i, counts in enumerate(grams):
        for gram, c in counts.items():
            top = best.setdefault(gram, [0, -1, 0])
            if c > top[0]:
                top[:] = [c, i, top[0]]
            elif c > top[2]:
                top[2] = c
    scores = []
    for i, counts in enumerate(grams):
        closest = bleu._get_closest_ref_len(lens[i], lens[:i] + lens[i + 1 :])
        stats = [lens[i], closest, *_matches(counts, best, i, bleu.max_ngram_order)]
        scores.append(bleu._compute_score_from_stats(stats).score)
    return float(np.mean(scores))


def _matches(counts: dict, best: dict[tuple, list], me: int, order: int) -> list[int]:
    """Clipped n-gram matches and totals of one text against all the others (sacrebleu's statistics)."""
    correct, total = [0] * order, [0] * order
    for gram, c in counts.items():
        n = len(gram) - 1
        total[n] += c
        top = best[gram]
        ref = top[2] if top[1] == me else top[0]
        correct[n] += min(c, ref)
    return correct + total
