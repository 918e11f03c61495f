"""The recompute benchmark still starts, prints its header and its baseline beside the figures,
and loads its scale points on a tiny size (the figures themselves are never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_recompute_db_runs_on_a_tiny_size():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "recompute_db.py"), "--items", "100",
         "--votes", "5", "--repeats", "1", "--table-votes", "0,2k"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "== consensus recompute on PostgreSQL, 100 items × 5 votes" in out
    assert "machine: " in out and " cores (" in out
    assert "baseline: raw read + majority + UPDATE of every row" in out
    assert "ratio recompute, worst case (all rows rewritten) / baseline" in out
    assert "generated 2,160 other votes" in out
    assert "growth 0 → 2,160 other votes, worker_em" in out
