"""Synthetic candidates rendered and judged (language pack, grammar-sanity pack, fact fidelity) brief by
brief, in this process or in forked worker processes. The workers inherit the loaded packs and generators
from the parent's memory; nothing but brief indices goes to them and (candidate, verdict) pairs come back.
Results arrive in brief order, so the files are the same with any number of workers."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from typing import Any

from orchestrator.parallel_check import available_cores
from orchestrator.quality import Verdict, judge
from orchestrator.templates import Candidate
from rules import Brief, RulePack

Judged = list[tuple[Candidate, Verdict]]
Render = Callable[[Brief], list[Candidate]]
CHUNK = 6  # briefs per task: about a second of work, so the pool stays busy to the end

_inherited: dict[str, Any] = {}  # set before the pool forks; read by the workers


def judge_all(
    brief: Brief, candidates: list[Candidate], pack: RulePack, sanity: RulePack | None, reject_warnings: bool
) -> Judged:
    verdicts: dict[str, Verdict] = {}  # a text drawn twice for one brief is judged once
    out = []
    for cand in candidates:
        verdict = verdicts.get(cand.text)
        if verdict is None:
            verdict = verdicts[cand.text] = judge(cand.text, brief, pack, sanity, reject_warnings)
        out.append((cand, verdict))
    return out


def _one(brief: Brief) -> Judged:
    s = _inherited
    return judge_all(
        brief, s["render"](brief), s["packs"][brief.language], s["sanity"][brief.language], s["reject_warnings"]
    )


def _chunk(indices: list[int]) -> list[Judged]:
    return [_one(_inherited["briefs"][i]) for i in indices]


def workers_for(requested: int | None, briefs: int) -> int:
    """The cores available (or the request), no more than the briefs keep busy, 1 where fork is missing."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    wanted = available_cores() if requested is None else max(1, requested)
    return max(1, min(wanted, briefs // (2 * CHUNK)))


def judged(
    briefs: list[Brief],
    render: Render,
    packs: dict[str, RulePack],
    sanity: dict[str, RulePack],
    reject_warnings: bool,
    workers: int | None = None,
) -> Iterator[tuple[Brief, Judged]]:
    """(brief, its candidates with their verdicts) for every brief, in order."""
    _inherited.update(briefs=briefs, render=render, packs=packs, sanity=sanity, reject_warnings=reject_warnings)
    try:
        count = workers_for(workers, len(briefs))
        if count == 1:
            for brief in briefs:
                yield brief, _one(brief)
            return
        chunks = [list(range(i, min(i + CHUNK, len(briefs)))) for i in range(0, len(briefs), CHUNK)]
        with multiprocessing.get_context("fork").Pool(count) as pool:
            for indices, results in zip(chunks, pool.imap(_chunk, chunks), strict=True):
                yield from zip((briefs[i] for i in indices), results, strict=True)
    finally:
        _inherited.clear()
