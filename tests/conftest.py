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
