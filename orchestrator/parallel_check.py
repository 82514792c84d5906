"""Checking many messages on several cores: results in input order, streamed as they are ready, the
same as one process gives.

Workers are forked from the checking process where the platform allows it: they start with the packs
loaded and read the messages from the parent's memory, so a task is only a range of indices (spawned
workers get the packs and chunks of messages pickled). With ``--json`` a worker writes the lines too,
so only text comes back. A small input is checked in-process, where workers would cost more than
they save.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rules import CheckResult, RulePack

if TYPE_CHECKING:
    from orchestrator.checking import Item, PackChooser

CHUNK = 256  # messages per task: large enough that passing them between processes costs little
PER_WORKER = 2_000  # fewer messages than this per worker are not worth a process

_packs: RulePack | PackChooser | None = None
_items: list[Item] = []  # forked workers read the messages from the parent's memory, not a pipe
_as_json = False


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def workers_for(requested: int | None, messages: int) -> int:
    """How many processes to use: the request (default: the cores available), no more than the input
    keeps busy."""
    wanted = available_cores() if requested is None else requested
    return max(1, min(wanted, messages // PER_WORKER or 1))


def check_one(packs: RulePack | PackChooser, item: Item) -> CheckResult:
    pack = packs if isinstance(packs, RulePack) else packs.for_item(item)
    return pack.check(item.message, item.brief)


def json_line(item: Item, result: CheckResult) -> str:
    return json.dumps({"id": item.id, **result.as_dict()}, ensure_ascii=False)


def _start(packs: RulePack | PackChooser, items: list[Item], as_json: bool) -> None:
    global _packs, _items, _as_json
    _packs, _as_json = packs, as_json
    if items:
        _items = items


def _check_chunk(task: tuple[int, int] | list[Item]) -> list:
    """Check one chunk: (start, end) into the inherited messages, or the messages themselves. With
    ``--json`` a worker also writes the lines, so only text travels back."""
    assert _packs is not None
    chunk = _items[task[0] : task[1]] if isinstance(task, tuple) else task
    results = [check_one(_packs, item) for item in chunk]
    if _as_json:
        return [(json_line(item, r), r.passed) for item, r in zip(chunk, results, strict=True)]
    return results


def _pool_tasks(
    packs: RulePack | PackChooser, items: list[Item], workers: int, as_json: bool
) -> Iterator[tuple[list[Item], list]]:
    global _items, _packs, _as_json
    # the first chunk is checked here: the workers then inherit loaded packs and warm per-word caches
    # (dictionaries are loaded once, not once per worker)
    _packs, _as_json = packs, as_json
    yield items[:CHUNK], _check_chunk(items[:CHUNK])
    _warm_every_pack(packs, items)
    bounds = [(i, min(i + CHUNK, len(items))) for i in range(CHUNK, len(items), CHUNK)]
    if "fork" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("fork")
        tasks: list = bounds
        _items = items  # inherited by the forked workers
        initargs: tuple = (packs, [], as_json)
    else:
        context = multiprocessing.get_context("spawn")
        tasks = [items[a:b] for a, b in bounds]
        initargs = (packs, [], as_json)
    # what the workers inherit is never freed while they run: keeping it out of the collector's scans
    # spares each worker a walk over every message and every compiled rule (and the copies of the
    # memory pages such a walk makes)
    gc.freeze()
    try:
        with context.Pool(workers, initializer=_start, initargs=initargs) as pool:
            for (a, b), results in zip(bounds, pool.imap(_check_chunk, tasks), strict=True):
                yield items[a:b], results
    finally:
        gc.unfreeze()
        _items = []


def _warm_every_pack(packs: RulePack | PackChooser, items: list[Item]) -> None:
    """Check one message for each pack a sample of the input uses, so the workers inherit every pack's
    dictionaries loaded (the first chunk may all be one language)."""
    if isinstance(packs, RulePack):
        return
    warmed: set[int] = {id(packs.for_item(item)) for item in items[:CHUNK]}
    for item in items[CHUNK :: max(1, len(items) // 64)]:
        pack = packs.for_item(item)
        if id(pack) not in warmed:
            warmed.add(id(pack))
            pack.check(item.message, item.brief)


def check_stream(
    packs: RulePack | PackChooser, items: list[Item], workers: int = 1
) -> Iterator[tuple[Item, CheckResult]]:
    """(item, result) for every item, in input order; ``workers`` processes when above 1."""
    if workers <= 1:
        for item in items:
            yield item, check_one(packs, item)
        return
    for chunk, results in _pool_tasks(packs, items, workers, as_json=False):
        yield from zip(chunk, results, strict=True)


def json_stream(packs: RulePack | PackChooser, items: list[Item], workers: int = 1) -> Iterator[tuple[str, bool]]:
    """(JSON line, passed) for every item, in input order."""
    if workers <= 1:
        for item in items:
            result = check_one(packs, item)
            yield json_line(item, result), result.passed
        return
    for _, lines in _pool_tasks(packs, items, workers, as_json=True):
        yield from lines
