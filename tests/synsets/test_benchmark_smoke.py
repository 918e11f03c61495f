"""The WordNet import benchmark still starts, makes its scratch database and prints its header
(no repetition: a full import is what it measures, not what the suite should wait for)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wordnet_import_benchmark_starts():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "wordnet_import.py"), "--repeats", "0"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "== WordNet 3.0 import (PostgreSQL)" in result.stdout
    assert "machine: " in result.stdout
