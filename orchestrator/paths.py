"""Where adsft keeps things: the user's data dir (ADSFT_HOME overrides) and the bundled data folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def home() -> Path:
    """The data dir (ledger, caches, runs): $ADSFT_HOME, else $XDG_DATA_HOME/adsft, else ~/.local/share/adsft."""
    explicit = os.environ.get("ADSFT_HOME")
    if explicit:
        path = Path(explicit).expanduser()
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        path = Path(base) / "adsft"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The bundled data folder (`datasets/` in the repository; $ADSFT_DATA overrides)."""
    return Path(os.environ.get("ADSFT_DATA") or REPO_ROOT / "datasets")
