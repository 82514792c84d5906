from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "datasets" / "samples"


@pytest.fixture(scope="session")
def ru():
    from rules import load_pack

    return load_pack("ru")


@pytest.fixture(scope="session")
def en():
    from rules import load_pack

    return load_pack("en")


@pytest.fixture(scope="session")
def labelled() -> list[dict]:
    path = SAMPLES / "labelled_messages.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("ADSFT_HOME", str(tmp_path / "home"))


def catalog_subset(folder: Path, per_language: int) -> Path:
    """The first `per_language` English and Russian briefs of the bundled catalog, as a briefs file."""
    from orchestrator.briefs import load_briefs
    from orchestrator.paths import data_dir

    briefs = list(load_briefs(data_dir() / "briefs" / "catalog.jsonl").values())
    chosen = [b for lang in ("en", "ru") for b in [b for b in briefs if b.language == lang][:per_language]]
    path = folder / "briefs.jsonl"
    path.write_text("".join(b.model_dump_json() + "\n" for b in chosen), encoding="utf-8")
    return path
