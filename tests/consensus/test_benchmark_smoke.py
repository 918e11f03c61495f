"""The consensus benchmarks on simulated and on real crowd votes still start, print their header
and the baselines beside the model's figures on a tiny size (the figures themselves are never
asserted)."""

from __future__ import annotations

import re

import pytest

from tests.benchmark_smoke import run_benchmark as run

pytestmark = pytest.mark.slow


def test_consensus_sim_runs_on_a_tiny_size():
    out = run("consensus_sim.py", "--seeds", "1", "--synsets-per-level", "1", "--candidates",
              "100")  # fmt: skip
    assert "== consensus on simulated ImageNet-like synsets (consensus_sim)" in out
    assert "1 seeds x 3 synsets x 100 candidates" in out
    # The fixed majorities and ImageNet's seed table are printed beside the model.
    # The Bayes oracle (the frontier no rule can beat on this crowd) too, at both caps.
    methods = ("majority-3", "majority-5", "imagenet-table", "model", "oracle", "oracle-max-20")
    for method in methods:
        assert re.search(rf"^{method}\s+all\s", out, re.MULTILINE), method
        assert re.search(rf"^{method}\s+mix\s", out, re.MULTILINE), method


def test_consensus_real_runs_on_the_smallest_archive():
    # No plot: the figure in benchmarks/out belongs to full runs.
    out = run("consensus_real.py", "--datasets", "bluebirds", "--methods", "model", "--no-plot")
    assert "== consensus methods on the real crowd archives (consensus_real)" in out
    # Majority vote, Dawid–Skene and crowd-kit's best are printed beside the model.
    assert re.search(r"^dataset\s+MV\s+DS\s+model\s+loo\s+ck-best$", out, re.MULTILINE)
    assert re.search(r"^bluebirds(\s+\d\.\d{3}){5}$", out, re.MULTILINE)
    assert re.search(r"^bluebirds\s+model\s+0\.99\s", out, re.MULTILINE)
    assert "reliability [" in out
    assert "plot: " not in out


def test_consensus_recompute_engine_benchmark_starts():
    # The engine part only (--db runs recompute_db.py, which has its own smoke test).
    out = run("consensus_recompute.py")
    assert "== consensus engine alone" in out
    assert re.search(r"^decide_synset 10,000 x 10 votes: median \d", out, re.MULTILINE)
    assert "(target < 1 s)" in out


def test_consensus_pilot_runs_on_a_few_draws():
    out = run("consensus_pilot.py", "--draws", "3", "--gold-yes", "1", "--gold-no", "1")
    assert "== consensus on small pilot synsets (consensus_pilot)" in out
    assert "20 seed images (6 good) x 10 votes, gold 1 yes + 1 no x 10 votes" in out
    assert re.search(r"^good images accepted \(recall\): \d+/18 = [01]\.\d{3}$", out, re.M)
    assert re.search(r"^draws with no good image accepted: \d/3 = ", out, re.M)
