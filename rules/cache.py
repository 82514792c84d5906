"""Compiled packs kept on disk, so a process checks its first message without expanding the lexicon.

A compiled pack is pickled under the user's cache dir: ``$ADSFT_RULES_CACHE`` (a folder, or ``off``),
else ``$ADSFT_HOME/cache/rules``, else ``$XDG_CACHE_HOME/adsft/rules`` (``~/.cache/adsft/rules``).
An entry is found by the pack file's path and bytes, the engine's source and the Russian dictionary's
version; it holds the digest of every file the pack was built from (the packs it extends too), and is
used only when all of them still match. Entries are written to a temporary file and renamed into
place, so two processes building the same pack at once both end with a whole, valid entry. The cache
holds only what this user's own processes wrote; delete the folder to start afresh.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from rules._native import COMPILED

FORMAT = 1
_RULES_DIR = Path(__file__).parent


def cache_dir() -> Path | None:
    """Where compiled packs are kept; None when caching is off."""
    explicit = os.environ.get("ADSFT_RULES_CACHE")
    if explicit:
        return None if explicit.lower() in ("off", "0", "no") else Path(explicit).expanduser()
    home = os.environ.get("ADSFT_HOME")
    if home:
        return Path(home).expanduser() / "cache" / "rules"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "adsft" / "rules"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _package_files(name: str, files: tuple[str, ...]) -> bytes:
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return b"-"
    root = Path(next(iter(spec.submodule_search_locations)))
    out = []
    for file in files:
        try:
            out.append((root / file).read_bytes())
        except OSError:
            out.append(b"-")
    return b"\0".join(out)


@cache
def environment() -> str:
    """What a compiled pack depends on besides its files: the engine's code, Python, and the version of
    pymorphy3 and its Russian dictionary (lexicon forms come from them), and which modules run compiled
    (a compiled check pickles its state in another form)."""
    h = hashlib.sha256(f"{FORMAT}:{sys.version_info[:2]}:{','.join(COMPILED)}".encode())
    for source in sorted(_RULES_DIR.glob("*.py")):
        h.update(source.name.encode() + b"\0" + source.read_bytes())
    h.update(_package_files("pymorphy3", ("version.py",)))
    h.update(_package_files("pymorphy3_dicts_ru", ("version.py", "data/meta.json")))
    return h.hexdigest()


def _entry(path: Path, data: bytes) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = digest(f"{environment()}\0{path.resolve()}\0".encode() + data)
    return folder / f"{key[:32]}.pickle"


def load(path: Path, data: bytes) -> Any | None:
    """The pack compiled from ``path`` (whose bytes are ``data``), if a valid entry exists."""
    entry = _entry(path, data)
    if entry is None:
        return None
    try:
        with entry.open("rb") as fh:
            sources, pack = pickle.load(fh)
        for source, wanted in sources:
            if digest(Path(source).read_bytes()) != wanted:
                return None
    except Exception:  # a missing, partial, stale or foreign entry is rebuilt, never fatal
        return None
    return pack


def store(path: Path, data: bytes, sources: list[Path], pack: Any) -> bool:
    """Keep a compiled pack; False when it cannot be kept (no cache, a read-only disk, an unpicklable
    custom rule). Never raises: the cache only saves time."""
    entry = _entry(path, data)
    if entry is None:
        return False
    try:
        payload = pickle.dumps(([(str(s), digest(s.read_bytes())) for s in sources], pack), protocol=5)
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=entry.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except Exception:
        return False
    return True
