"""The rule-checking workers of a scoring run: the same verdicts as a check in this process, for briefs
sent by id or whole; thousands of checks in flight at once neither block nor deadlock; a worker that
dies fails its callers with an error that says what to do, instead of leaving them waiting."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from orchestrator import judging
from orchestrator.briefs import load_eval
from orchestrator.errors import AdsftError
from orchestrator.paths import data_dir

TEXTS = [
    "Оформите карту сегодня и получайте кэшбэк 3% на всё.",
    "ЛУЧШЕЕ предложение!!! Не упустите!",
    "Open an account today and earn 3% cashback.",
    "The BEST deal ever!!! Don't miss out.",
]

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: the checks run in a thread")


@pytest.fixture(scope="module")
def briefs():
    return [b for b, _ in load_eval(data_dir() / "briefs" / "eval.jsonl")]


def test_workers_give_the_verdicts_of_an_in_process_check(briefs):
    registered, outsider = briefs[:-1], briefs[-1]  # the last is sent whole, not by id
    cases = [(b, t) for b in briefs for t in TEXTS]

    async def run(judges):
        found = await asyncio.gather(*(judges.check(b.language, t, b) for b, t in cases))
        await judges.aclose()
        return found

    with judging.Judges({b.language for b in briefs}, registered, workers=2) as judges:
        assert len(judges.workers) == 2
        found = asyncio.run(run(judges))
    assert found == [judging.check(b.language, t, b) for b, t in cases]
    assert any(passed for passed, _ in found) and not all(passed for passed, _ in found)
    assert outsider.id not in judges.briefs


def test_thousands_of_checks_in_flight_do_not_block(briefs):
    brief = briefs[0]
    long_text = "Оформите карту сегодня. " * 400  # requests far larger than a pipe's buffer, all at once

    async def run(judges):
        found = await asyncio.wait_for(
            asyncio.gather(*(judges.check(brief.language, long_text, brief) for _ in range(2000))), timeout=300
        )
        await judges.aclose()
        return found

    with judging.Judges({brief.language}, [brief], workers=1) as judges:
        found = asyncio.run(run(judges))
    assert len(found) == 2000 and all(f == found[0] for f in found)


def test_a_worker_that_dies_fails_its_callers(briefs):
    brief = briefs[0]

    async def run(judges):
        await judges.check(brief.language, TEXTS[0], brief)  # connected and answering
        os.kill(judges.workers[0].process.pid, signal.SIGKILL)
        judges.workers[0].process.join()
        await asyncio.sleep(0.5)  # its stream has seen the end: later checks fail at once
        with pytest.raises(AdsftError, match="stopped"):
            await asyncio.wait_for(judges.check(brief.language, TEXTS[1], brief), timeout=20)
        await judges.aclose()

    with judging.Judges({brief.language}, [brief], workers=1) as judges:
        asyncio.run(run(judges))
