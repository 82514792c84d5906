"""Judging scoring attempts off the event loop: the rule checks run in worker processes.

A rule check costs milliseconds of CPU; at high concurrency that, not the network, bounds a scoring
run, and a thread would hold the interpreter lock the event loop needs. The workers are forked once,
before the event loop starts, from a process that has already loaded the rule packs, so they start
with the packs in memory and are sent only (language, text, brief). Where fork is not available (or
one worker would be all), the checks run in one thread instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from rules import Brief, RulePack, load_pack

_PACKS: dict[str, RulePack] = {}  # this process's packs (a forked worker inherits the parent's)


def pack(language: str) -> RulePack:
    if language not in _PACKS:
        _PACKS[language] = load_pack(language)
    return _PACKS[language]


def check(language: str, text: str, brief: Brief) -> tuple[bool, list[dict]]:
    """Whether the text passes the language's pack for this brief, and its error-level violations."""
    result = pack(language).check(text, brief)
    return result.passed, [v.as_dict() for v in result.violations if v.level == "error"]


def _ready() -> int:
    return os.getpid()


class Judges:
    """A pool of rule checkers for one scoring run (a context manager)."""

    def __init__(self, languages: set[str], workers: int | None = None) -> None:
        for language in sorted(languages):
            pack(language)  # loaded here, once, before any worker is forked
        count = workers if workers is not None else min(4, max(1, (os.cpu_count() or 1) - 1))
        self.executor: Executor
        if "fork" in multiprocessing.get_all_start_methods() and count >= 1 and (os.cpu_count() or 1) > 1:
            self.executor = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork"))
            self.executor.submit(_ready).result()  # every worker forked now, while this process has no loop
        else:
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="judge")

    async def check(self, language: str, text: str, brief: Brief) -> tuple[bool, list[dict]]:
        return await asyncio.get_running_loop().run_in_executor(self.executor, check, language, text, brief)

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    def __enter__(self) -> Judges:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
