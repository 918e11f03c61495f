"""The scheduler and HIT-load benchmarks still start, print their header and their baseline or
target beside the figures on a tiny size (the figures themselves are never asserted)."""

from __future__ import annotations

import re

import pytest

from tests.benchmark_smoke import run_benchmark as run

pytestmark = pytest.mark.slow


def test_scheduler_scale_runs_on_a_tiny_size():
    out = run("scheduler_scale.py", "--sizes", "tiny", "--hits", "6", "--clients", "3")
    assert "== next-HIT latency against project size (scheduler_scale)" in out
    assert "generated 2 synsets × 240 = 480 images" in out
    assert "EXPLAIN ANALYZE" in out and "queries of one prefetching next-HIT request" in out
    assert "tiny: next-HIT p50" in out and "(baseline, live HIT: p50" in out
    assert "n = 6" in out
    # The tail's breakdown: medians, then the five slowest of the six requests.
    parts = r"wall [\d.]+, CPU [\d.]+, database [\d.]+, collector [\d.]+"
    assert re.search(rf"next-HIT, where the time went \(ms\), medians: {parts}", out), out
    assert len(re.findall(rf"slow request: {parts}", out)) == 5, out
    assert "target: next-HIT p99 < 30 ms at 10 M images" in out


def test_hit_cycle_cpu_runs_on_a_tiny_size():
    out = run("hit_cycle_cpu.py", "--images", "tiny", "--cycles", "5", "--workers", "8")
    assert "== web-process CPU per HIT cycle (hit_cycle_cpu, tiny images)" in out
    assert re.search(r"submit: median CPU [\d.]+ ms per request", out), out
    assert re.search(r"next: median CPU [\d.]+ ms per request", out), out
    assert "baseline, the smallest worker API request (GET /api/me/stats/)" in out
    assert re.search(r"Python function calls per HIT cycle \(cProfile, 5 more cycles\): [\d,]+",
                     out)  # fmt: skip


def test_hit_load_runs_on_a_tiny_size():
    # One fixed stage of 3 s at 2 submissions/s, annotators looking for 1 s on average; one
    # gunicorn worker and the Celery worker, as in a real run.
    out = run("hit_load.py", "--images", "tiny", "--annotators", "20", "--rates", "2",
              "--step-duration", "3", "--think", "1", "--gunicorn-workers", "1", "--threads",
              "2", "--pin", "no")  # fmt: skip
    assert "== worker API under the grid page's traffic (hit_load, tiny images)" in out
    assert "generated 2 synsets × 240 = 480 images" in out
    # Submissions went through (whatever their latency).
    assert re.search(r"2\.0/s × 3 s: submit p50 \S+ p99 \S+ ms err \d+ \{200: [1-9]", out), out
    assert "| submit/s | next p50 / p99 ms |" in out
    assert "knee (highest rate with p99 < 200 ms and no errors): " in out
    assert "; target 100 + 100 /s" in out
    assert "Celery worker: " in out and " tasks succeeded" in out
