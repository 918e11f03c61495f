"""Tests of dashboards/audit/maths.py: Wilson intervals, stratified synset and image samples."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from dashboards.audit.maths import (
    audit_precision,
    group_by_depth,
    sample_items,
    stratified_sample,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # Published values (e.g. statsmodels proportion_confint(method="wilson")).
        (8, 10, (0.4902, 0.9433)),
        (0, 10, (0.0, 0.2775)),
        (10, 10, (0.7225, 1.0)),
        (997, 1000, (0.9912, 0.9990)),
    ],
)
def test_wilson_interval_matches_known_values(successes, n, expected):
    low, high = wilson_interval(successes, n)

    assert low == pytest.approx(expected[0], abs=5e-5)
    assert high == pytest.approx(expected[1], abs=5e-5)


@pytest.mark.parametrize(("successes", "n"), [(1, 3), (45, 50), (79, 80), (312, 400)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_interval_agrees_with_scipy(successes, n, confidence):
    reference = binomtest(successes, n).proportion_ci(confidence, method="wilson")

    low, high = wilson_interval(successes, n, confidence)

    assert (low, high) == pytest.approx((reference.low, reference.high), abs=1e-12)


def test_wilson_interval_of_no_reviews_is_uninformative():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_widens_with_confidence():
    narrow = wilson_interval(70, 80, 0.90)
    wide = wilson_interval(70, 80, 0.99)

    assert wide[0] < narrow[0] < narrow[1] < wide[1]


@pytest.mark.parametrize(
    ("successes", "n", "confidence"), [(5, 4, 0.95), (-1, 4, 0.95), (2, 4, 1.0), (2, 4, 0.0)]
)
def test_wilson_interval_rejects_impossible_input(successes, n, confidence):
    with pytest.raises(ValueError, match="must|need"):
        wilson_interval(successes, n, confidence)


def test_sample_items_is_reproducible_and_ignores_input_order():
    ids = list(range(1000))

    first = sample_items(ids, 50, seed=7)

    assert first == sample_items(reversed(ids), 50, seed=7)
    assert len(set(first)) == 50
    assert set(first) <= set(ids)
    assert first != sample_items(ids, 50, seed=8)


def test_sample_items_keeps_earlier_picks_when_the_pool_grows():
    small = set(sample_items(range(500), 40, seed="audit"))

    grown = set(sample_items(range(2000), 40, seed="audit"))

    # Bottom-k by hash: an id drops out only when a new id outranks it, never reshuffles.
    assert grown & set(range(500)) <= small


def test_sample_items_returns_everything_from_a_small_pool():
    assert sorted(sample_items(["a", "b", "c"], 10, seed=1)) == ["a", "b", "c"]
    assert sample_items([], 10, seed=1) == []


def test_sample_items_is_roughly_uniform():
    hits = [0] * 10
    for seed in range(400):
        for item in sample_items(range(10), 3, seed=seed):
            hits[item] += 1

    # Each id is expected 120 times; 4 standard deviations is about ±37.
    assert all(80 < h < 160 for h in hits)


def test_stratified_sample_takes_per_depth_from_every_depth():
    by_depth = {
        2: [f"n{i:08d}" for i in range(5)],
        3: [f"n{i:08d}" for i in range(100, 300)],
        4: [f"n{i:08d}" for i in range(500, 590)],
    }

    sample = stratified_sample(by_depth, per_depth=80, seed=3)

    assert len(sample) == 5 + 80 + 80
    assert set(by_depth[2]) <= set(sample)
    assert len(set(sample)) == len(sample)
    assert sample == stratified_sample({d: list(reversed(w)) for d, w in by_depth.items()}, 80, 3)


def test_stratified_sample_depths_are_independent():
    base = {3: [f"n{i:08d}" for i in range(200)], 4: [f"n{i:08d}" for i in range(200, 400)]}
    grown = {3: base[3] + [f"n{i:08d}" for i in range(900, 950)], 4: base[4]}

    def depth4(sample):
        return [w for w in sample if w in set(base[4])]

    assert depth4(stratified_sample(base, 80, 1)) == depth4(stratified_sample(grown, 80, 1))


def test_group_by_depth_inverts_the_mapping():
    assert group_by_depth({"n1": 2, "n2": 3, "n3": 2}) == {2: ["n1", "n3"], 3: ["n2"]}


def test_audit_precision_per_synset_and_micro_overall():
    reviews = [("n02084071", True)] * 79 + [("n02084071", False)]
    reviews += [("n02121808", True)] * 20

    report = audit_precision(reviews)

    dog = report.per_synset["n02084071"]
    assert (dog.correct, dog.n, dog.precision) == (79, 80, pytest.approx(79 / 80))
    assert (dog.low, dog.high) == wilson_interval(79, 80)
    assert report.per_synset["n02121808"].precision == 1.0
    assert (report.overall.correct, report.overall.n) == (99, 100)
    assert (report.overall.low, report.overall.high) == wilson_interval(99, 100)


def test_audit_precision_without_reviews():
    report = audit_precision([])

    assert report.per_synset == {}
    assert report.overall.precision is None
    assert (report.overall.low, report.overall.high) == (0.0, 1.0)
