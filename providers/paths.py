"""Where providers keep their files: the user's data dir ($ADSFT_HOME, else $XDG_DATA_HOME/adsft, else
~/.local/share/adsft). The pipeline uses the same function (orchestrator.paths re-exports it)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    explicit = os.environ.get("ADSFT_HOME")
    if explicit:
        path = Path(explicit).expanduser()
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        path = Path(base) / "adsft"
    path.mkdir(parents=True, exist_ok=True)
    return path
