"""The suite's own layout: pytest's default import mode needs unique test module names.

Test directories have no __init__.py, so pytest imports each test file by its basename;
two files with one basename pass alone and fail together ("import file mismatch") —
which is how a clean-clone CI run once failed while every directory passed on its own.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_basenames_are_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
