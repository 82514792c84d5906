"""The compiled-pack cache: used when every source file matches, rebuilt when any changes, shared
safely by processes building at once, and never able to break a load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rules import cache, load_pack

ROOT = Path(__file__).resolve().parents[2]
BASE = """pack: {id: base, language: en}
rules:
  - id: base.cliche
    type: lexicon
    category: cliche
    message: "cliché {match}"
    entries: [synergy]
"""
CHILD = """extends: base.yaml
rules:
  - id: child.forbidden
    type: lexicon
    category: forbidden_word
    message: "forbidden {match}"
    entries: [crypto]
"""


def packs(tmp_path: Path) -> Path:
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text(CHILD, encoding="utf-8")
    return child


def entries() -> list[Path]:
    folder = cache.cache_dir()
    return sorted(folder.glob("*.pickle")) if folder and folder.is_dir() else []


def test_the_cache_lives_under_adsft_home_and_a_second_load_reads_it(tmp_path, monkeypatch):
    child = packs(tmp_path)
    assert cache.cache_dir() is not None and str(cache.cache_dir()).startswith(str(tmp_path / "home"))
    first = load_pack(child)
    assert len(entries()) == 1
    monkeypatch.setattr("rules.loader._compile", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt")))
    second = load_pack(child)
    assert second is not first
    assert [c.id for c in second.checks] == [c.id for c in first.checks] == ["base.cliche", "child.forbidden"]
    assert second.check("Synergy and crypto.").categories() == {"cliche", "forbidden_word"}


def test_a_changed_pack_or_extended_pack_is_rebuilt(tmp_path):
    child = packs(tmp_path)
    assert load_pack(child).check("Buy stocks.").passed
    (tmp_path / "base.yaml").write_text(BASE.replace("[synergy]", "[synergy, stocks]"), encoding="utf-8")
    assert load_pack(child).check("Buy stocks.").categories() == {"cliche"}
    child.write_text(CHILD.replace("[crypto]", "[crypto, bonds]"), encoding="utf-8")
    assert load_pack(child).check("Buy bonds.").categories() == {"forbidden_word"}


def test_a_damaged_entry_is_rebuilt_and_caching_can_be_turned_off(tmp_path, monkeypatch):
    child = packs(tmp_path)
    load_pack(child)
    (entry,) = entries()
    entry.write_bytes(entry.read_bytes()[:100])
    assert load_pack(child).check("Synergy.").categories() == {"cliche"}
    assert entry.stat().st_size > 100  # rewritten whole
    monkeypatch.setenv("ADSFT_RULES_CACHE", "off")
    assert cache.cache_dir() is None
    assert load_pack(child).check("Synergy.").categories() == {"cliche"}


def test_two_processes_building_at_once_both_succeed(tmp_path):
    child = packs(tmp_path)
    check = f"load_pack({str(child)!r}).check('Synergy, crypto')"
    code = f"from rules import load_pack; print(sorted({check}.categories()))"
    runs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in runs]
    assert outputs == ["['cliche', 'forbidden_word']"] * 3
    assert len(entries()) == 1
    assert not list(cache.cache_dir().glob("*.tmp"))
