"""The ingest, near-duplicate, export and image-processing benchmarks still start, print their
header and their baseline beside the figure on a tiny size (the figures themselves are never
asserted)."""

from __future__ import annotations

import pytest

from tests.benchmark_smoke import run_benchmark as run

pytestmark = pytest.mark.slow


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


def test_image_processing_runs_on_a_tiny_size(tmp_path, sample_paths):
    for path in sample_paths[:12]:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    out = run("image_processing.py", "--dir", str(tmp_path), "--repeats", "1")
    assert "== process_image against a decode + thumbnail baseline" in out
    assert "12 images, " in out
    assert "baseline: decode + thumbnail" in out and "process_image / baseline: " in out
