"""The compiled rule engine (setup.py, rules/_native.py): it gives the violations the plain-Python one
gives, its objects pickle and build from Python code, and an edited source never runs stale."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rules
from rules import Brief, CheckResult, Message, Violation, load_pack
from rules.lexicon import Phrase
from rules.numbers import Mention
from rules.phrases import Pattern, Slot

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "rules" / "_compiled.json"
compiled_only = pytest.mark.skipif(not rules.COMPILED, reason="the rule engine is not compiled here")

# Checks the labelled messages in a child process and prints what it found, one JSON line per message.
_CHECK_ALL = """
import json, sys
import rules
from rules import Brief, load_pack
print(json.dumps(list(rules.COMPILED)))
for line in open(sys.argv[1], encoding="utf-8"):
    row = json.loads(line)
    brief = Brief(**row["brief"]) if row.get("brief") else None
    text = row.get("text") or {k: row.get(k) for k in ("title", "body", "cta")}
    found = load_pack(row["language"]).check(text, brief, row.get("channel"))
    print(json.dumps([v.as_dict() for v in found.violations], ensure_ascii=False))
"""


def _check_all(tmp_path: Path, env: dict[str, str]) -> tuple[list[str], list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", _CHECK_ALL, str(ROOT / "datasets" / "samples" / "rules_dev.jsonl")],
        env={**os.environ, "ADSFT_HOME": str(tmp_path / "home"), **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    first, *lines = out.stdout.splitlines()
    return json.loads(first), lines


def test_a_ci_build_runs_the_engine_compiled():
    if os.environ.get("CI") != "true" or os.environ.get("ADSFT_PURE_PYTHON"):
        pytest.skip("only CI promises a C compiler")
    assert MANIFEST.exists(), "pip install -e . did not compile the rule engine (see its output for why)"
    assert set(rules.COMPILED) == set(json.loads(MANIFEST.read_text(encoding="utf-8")))


@compiled_only
def test_compiled_and_plain_python_engines_find_the_same_violations(tmp_path):
    compiled, found = _check_all(tmp_path, {})
    plain, expected = _check_all(tmp_path, {"ADSFT_PURE_PYTHON": "1"})
    assert compiled and not plain
    assert len(found) > 200 and found == expected


@compiled_only
def test_an_edited_source_runs_as_python_with_a_warning(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", copy, ignore=shutil.ignore_patterns("__pycache__"))
    for library in ROOT.glob("rules_native__mypyc*"):
        shutil.copy(library, tmp_path)
    text = copy / "text.py"
    text.write_text(text.read_text(encoding="utf-8") + "\nEDITED = True\n", encoding="utf-8")
    probe = "import rules, rules.text; print(rules.COMPILED, rules.text.EDITED, rules.text.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path), "ADSFT_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["()", "True", str(text)]
    assert "rules/text.py changed since it was compiled" in done.stderr


def test_results_pickle_and_objects_built_in_python_keep_their_fields(tmp_path):
    message = Message(title="Кешбэк", body="Кешбэк 5% на всё!!!", cta="Оформить")
    assert (message.title, message.body, message.cta) == ("Кешбэк", "Кешбэк 5% на всё!!!", "Оформить")
    brief = Brief(
        id="b", language="ru", channel="push", product="Карта", category="card", attributes={"cashback": "3%"}
    )
    result = load_pack("ru").check(message, brief)
    assert result.violations and isinstance(result.violations[0], Violation)
    again = pickle.loads(pickle.dumps(result))
    assert isinstance(again, CheckResult) and again == result
    pack = pickle.loads(pickle.dumps(load_pack("en", use_cache=False)))
    assert (
        pack.check("Act now!!! Best deal ever!!!").violations
        == load_pack("en").check("Act now!!! Best deal ever!!!").violations
    )


@pytest.mark.parametrize(
    "cls, values",
    [
        (Phrase, {"source": "в кратчайшие сроки", "forms": (frozenset({"в"}),), "suggestion": "за 2 дня", "owner": 3}),
        (Slot, {"forms": frozenset({"деньги", "денег"}), "low": 0, "high": 3}),
        (Pattern, {"source": "деньги работать", "slots": (Slot(frozenset({"деньги"}), 1, 1),)}),
        (Mention, {"kind": "money", "value": 990.0, "unit": "RUB", "start": 4, "end": 10}),
    ],
)
def test_frozen_values_pickle_every_field(cls, values):
    """A frozen value pickles through its hand-written ``__reduce__``: a field added to the class but not
    to ``__reduce__`` would come back wrong, or not at all."""
    assert [f.name for f in dataclasses.fields(cls)] == list(values), "give every field a value here"
    value = cls(**values)
    again = pickle.loads(pickle.dumps(value))
    assert type(again) is cls and again == value
    assert {name: getattr(again, name) for name in values} == values
