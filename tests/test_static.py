"""The code stays lint- and type-clean (STYLE: ruff and mypy clean): the checkers the README's Development
section names, at the versions pinned in ``pyproject.toml``'s test extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", [["ruff", "check", "qa", "ui", "tests", "benchmarks"], ["mypy", "qa", "ui"]],
                         ids=["ruff", "mypy"])
def test_checker_is_clean(command: list[str]) -> None:
    pytest.importorskip(command[0])
    r = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
