"""The rule engine's hot modules are compiled to C extensions with mypyc where a C compiler is at hand
(about a third fewer CPU instructions per message checked; ``bench/bench_rules.py`` measures it). The
modules stay plain Python too: where the build fails, or with ``ADSFT_PURE_PYTHON=1`` set while
installing, nothing is compiled. Everything else about the package is in pyproject.toml."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

# the modules a message goes through when it is checked; the loader, the schema and the brief stay Python
# (they run once per pack or brief, and the pydantic models are not for mypyc)
COMPILED = (
    "checks",
    "checks_text",
    "claims",
    "facts",
    "grammar",
    "lexicon",
    "model",
    "numbers",
    "pack",
    "phrases",
    "prefilter",
    "promises",
    "text",
)
MANIFEST = "_compiled.json"


class BuildWithManifest(build_ext):
    """Builds the extensions, then records the source each was compiled from (``rules/_compiled.json``):
    ``rules._native`` runs a module as Python where its source has changed since."""

    def run(self) -> None:
        super().run()
        built = [name for name in COMPILED if Path(self.get_ext_fullpath(f"rules.{name}")).exists()]
        sources = {name: hashlib.sha256(Path(f"rules/{name}.py").read_bytes()).hexdigest() for name in built}
        folder = Path("rules") if self.inplace else Path(self.build_lib) / "rules"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).write_text(json.dumps(sources, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def extensions() -> list:
    if os.environ.get("ADSFT_PURE_PYTHON"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    try:
        found = mypycify(
            ["--ignore-missing-imports", "--follow-imports=silent", *(f"rules/{name}.py" for name in COMPILED)],
            opt_level="3",
            group_name="rules_native",
        )
    except (Exception, SystemExit) as exc:  # mypy found a type error: tests/test_types.py names it
        print(f"adsft: the rule engine is not compiled ({exc!r}); it runs as plain Python", file=sys.stderr)
        return []
    for extension in found:
        extension.optional = True  # no compiler: the package installs as plain Python
    return found


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildWithManifest})
