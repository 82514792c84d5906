"""Checking many messages on several cores: results in input order, streamed as they are ready, the
same as one process gives.

Workers are forked from the checking process where the platform allows it, so they start with the
packs already loaded (spawned ones read them from the pack cache). Messages travel in chunks; a
small input is checked in-process, where starting workers would cost more than it saves.
"""

from __future__ import annotations

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


def _start(packs: RulePack | PackChooser) -> None:
    global _packs
    _packs = packs


def _check_chunk(chunk: list[Item]) -> list[CheckResult]:
    assert _packs is not None
    return [check_one(_packs, item) for item in chunk]


def check_stream(
    packs: RulePack | PackChooser, items: list[Item], workers: int = 1
) -> Iterator[tuple[Item, CheckResult]]:
    """(item, result) for every item, in input order; ``workers`` processes when above 1."""
    if workers <= 1:
        for item in items:
            yield item, check_one(packs, item)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    with context.Pool(workers, initializer=_start, initargs=(packs,)) as pool:
        for chunk, results in zip(chunks, pool.imap(_check_chunk, chunks), strict=True):
            yield from zip(chunk, results, strict=True)
