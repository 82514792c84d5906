"""The engine gives exactly the violations recorded from the reference engine (every field, in order)
on every labelled message and on 10,000 generated ones (see tests/rules/differential.py)."""

from __future__ import annotations

import pytest

from tests.rules import differential as d


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return d.recorded()


@pytest.fixture(scope="module")
def packs(ru, en):
    return {"ru": ru, "en": en}


def test_labelled_messages_give_the_recorded_violations(cases, packs):
    rows = {name: d._rows(name) for name in d.LABELLED}
    labelled = [c for c in cases if c["kind"] == "labelled"]
    assert len(labelled) == sum(map(len, rows.values())), "the labelled sets changed: re-record the cases"
    differ = []
    for case in labelled:
        row = rows[case["file"]][case["line"] - 1]
        assert d.digest(row) == case["input"], f"{case['file']}:{case['line']} changed: re-record the cases"
        language, message, brief, channel = d.labelled_inputs(case["file"], row)
        found = d.violations_of(packs[language], message, brief, channel)
        blind = case["file"] == d.BLIND
        if (d.digest(found) == case["violations_digest"]) if blind else (found == case["violations"]):
            continue
        differ.append(f"{case['file']}:{case['line']}")
    assert differ == []


def test_generated_messages_give_the_recorded_violations(cases, packs):
    generated = [c for c in cases if c["kind"] == "generated"]
    assert len(generated) == d.GENERATED
    differ = []
    for case in generated:
        language, message, brief, channel = d.generated_inputs(case["case"])
        found = d.violations_of(packs[language], message, brief, channel)
        if found != case["violations"]:
            differ.append((case["case"]["message"], case["violations"], found))
    assert not differ, f"{len(differ)} differ; first: {differ[0]}"


def test_the_generated_cases_exercise_every_rule(cases, packs):
    fired = {v[0] for c in cases if c["kind"] == "generated" for v in c["violations"]}
    rules = {f"{name}:{c.id}" for name, pack in packs.items() for c in pack.checks}
    missing = sorted(r for r in rules if r.split(":", 1)[1] not in fired)
    assert len(missing) <= 4, missing
