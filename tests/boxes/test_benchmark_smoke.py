"""The box benchmark still starts, runs the loop through the API and prints the baseline beside
the figure on a tiny size (the figures themselves are never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_boxes_sim_runs_on_a_tiny_size():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "boxes_sim.py"), "--images", "4", "--seeds", "1",
         "--workers", "6"],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "machine: " in result.stdout
    assert "coverage rate  loop" in result.stdout and "baseline" in result.stdout
