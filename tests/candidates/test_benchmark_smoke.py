"""The ingest, near-duplicate and export benchmarks still start, print their header and their
baseline beside the figure on a tiny size (the figures themselves are never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "machine: " in result.stdout and " cores (" in result.stdout
    return result.stdout


def test_near_duplicate_lookup_runs_on_a_tiny_size():
    out = run("near_duplicate_lookup.py", "--sizes", "5000", "--lookups", "10", "--repeats",
              "2", "--db-rows", "0")  # fmt: skip
    assert "baseline: numpy XOR + popcount scan" in out
    assert "results identical to the scan: yes" in out


def test_ingest_pipeline_runs_on_a_tiny_size(tmp_path):
    out = run("ingest_pipeline.py", "--sizes", "12", "--repeats", "1", "--threads", "2",
              "--media", str(tmp_path))  # fmt: skip
    assert "baseline (GET + draft decode" in out and "ratio pipeline" in out
    assert "'stored': 12" in out


def test_export_runs_on_a_tiny_size(tmp_path):
    out = run("export_memory.py", "--images", "30", "--repeats", "1", "--class-sizes", "10",
              "--out", str(tmp_path))  # fmt: skip
    assert "baseline: cp -r" in out and "memory held for one class" in out
