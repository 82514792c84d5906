"""The rule engine type-checks: mypyc compiles it only then (setup.py), and where it cannot, the package
quietly installs as plain Python. This test names the type error instead."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_compiled_modules_type_check_as_setup_py_compiles_them():
    pytest.importorskip("mypy")
    setup = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    compiled = next(
        ast.literal_eval(node.value)
        for node in setup.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED"
    )
    files = [f"rules/{name}.py" for name in compiled]
    flags = ["--ignore-missing-imports", "--follow-imports=silent", "--no-incremental"]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *flags, *files], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
