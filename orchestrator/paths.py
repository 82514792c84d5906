"""Where adsft keeps things: the user's data dir (ADSFT_HOME overrides) and the bundled data folder."""

from __future__ import annotations

import os
from pathlib import Path

from providers.paths import home

__all__ = ["REPO_ROOT", "data_dir", "home"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The bundled data folder (`datasets/` in the repository; $ADSFT_DATA overrides)."""
    return Path(os.environ.get("ADSFT_DATA") or REPO_ROOT / "datasets")
