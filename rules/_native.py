"""Whether the rule engine runs compiled, and the guard that keeps a stale build from running.

``setup.py`` compiles the engine's hot modules with mypyc and records, in ``_compiled.json``, the source
each was built from. The compiled modules call each other directly, so they run all together or not at
all: where any of their sources has changed since the build (an edited checkout), or where
``ADSFT_PURE_PYTHON=1`` is set, every one of them is imported from its ``.py`` file instead.

A compiled class is pickled (the pack cache, results sent between worker processes) only where it says
so: ``@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)``. The second flag is needed too:
with the first alone, mypyc 2.4 makes an object created from plain Python code (``Message(body=...)``)
without running its ``__init__``.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_MANIFEST = _HERE / "_compiled.json"


def _built() -> dict[str, str]:
    """The modules compiled, with the hash of the source each was compiled from ({} when none)."""
    try:
        found = json.loads(_MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    extensions = importlib.machinery.EXTENSION_SUFFIXES
    return {
        name: digest
        for name, digest in found.items()
        if any((_HERE / f"{name}{suffix}").exists() for suffix in extensions)
    }


def _stale(built: dict[str, str]) -> list[str]:
    out = []
    for name, digest in built.items():
        try:
            source = (_HERE / f"{name}.py").read_bytes()
        except OSError:
            continue  # an installed wheel may ship the extension alone
        if hashlib.sha256(source).hexdigest() != digest:
            out.append(name)
    return out


class _SourceFirst:
    """Imports ``rules.<name>`` from its ``.py`` file for the compiled modules that must not run."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        package, _, name = fullname.rpartition(".")
        if package != "rules" or name not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, _HERE / f"{name}.py")


def _choose() -> tuple[str, ...]:
    built = _built()
    if not built:
        return ()
    reason = None
    if os.environ.get("ADSFT_PURE_PYTHON"):
        reason = ""
    elif importlib.util.find_spec("rules_native__mypyc") is None:
        reason = "its shared library is missing"
    elif stale := _stale(built):
        reason = f"{', '.join(f'rules/{n}.py' for n in stale)} changed since it was compiled"
    if reason is None:
        return tuple(sorted(built))
    if reason:
        warnings.warn(
            f"the rule engine runs as plain Python (slower): {reason}; `pip install -e .` compiles it again",
            stacklevel=3,
        )
    sys.meta_path.insert(0, _SourceFirst(set(built)))  # type: ignore[arg-type]
    return ()


COMPILED: tuple[str, ...] = _choose()
"""The modules of ``rules`` that run compiled in this process (empty: plain Python)."""
