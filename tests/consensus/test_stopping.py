"""The dynamic-consensus stopping rule and the majority / Dawid–Skene baselines."""

from __future__ import annotations

import numpy as np
import pytest

from consensus.engine.dawid_skene import dawid_skene
from consensus.engine.majority import majority_vote
from consensus.engine.stopping import StoppingRule
from consensus.engine.types import Decision, Vote, VoteMatrix


@pytest.mark.parametrize(
    ("p_good", "n_votes", "expected"),
    [
        (0.995, 3, Decision.ACCEPT),
        (0.005, 3, Decision.REJECT),
        (0.6, 3, Decision.NEED_MORE),
        (0.6, 5, Decision.UNDECIDED),
        (0.995, 5, Decision.ACCEPT),  # convincing at the cap is a decision, not "undecided"
    ],
)
def test_binary_rule(p_good, n_votes, expected):
    rule = StoppingRule(accept_threshold=0.99, reject_threshold=0.99, max_votes=5, positive="y")
    assert rule.decide({"n": 1 - p_good, "y": p_good}, n_votes) is expected


def test_asymmetric_thresholds():
    rule = StoppingRule(accept_threshold=0.99, reject_threshold=0.9, positive=1)
    assert rule.decide({0: 0.92, 1: 0.08}, 2) is Decision.REJECT
    assert rule.decide({0: 0.08, 1: 0.92}, 2) is Decision.NEED_MORE


def test_multi_class_rule_accepts_a_settled_label():
    rule = StoppingRule(accept_threshold=0.9, max_votes=4)
    assert rule.decide({"a": 0.95, "b": 0.03, "c": 0.02}, 2) is Decision.ACCEPT
    assert rule.decide({"a": 0.5, "b": 0.3, "c": 0.2}, 2) is Decision.NEED_MORE


def test_vote_limit_lowers_the_cap_per_item():
    rule = StoppingRule(max_votes=10)
    codes = rule.decide_many(
        np.array([[0.6, 0.4], [0.6, 0.4]]),
        np.array([3, 3]),
        labels=(0, 1),
        vote_limit=np.array([3, 10]),
    )
    assert codes.tolist() == [3, 2]


def test_invalid_thresholds_are_refused():
    with pytest.raises(ValueError, match="accept_threshold"):
        StoppingRule(accept_threshold=0.3)


def test_majority_ties_are_split_at_random_but_reproducibly():
    votes = [Vote(i, w, label) for i in range(200) for w, label in (("a", 0), ("b", 1))]
    matrix = VoteMatrix.from_votes(votes)
    first = majority_vote(matrix, seed=1).predicted()
    assert np.array_equal(first, majority_vote(matrix, seed=1).predicted())
    assert 0.35 < first.mean() < 0.65
    assert np.allclose(majority_vote(matrix).posterior, 0.5)


def test_majority_picks_the_most_voted_label():
    votes = [Vote("x", "a", "cat"), Vote("x", "b", "cat"), Vote("x", "c", "dog")]
    matrix = VoteMatrix.from_votes(votes)
    assert matrix.labels[majority_vote(matrix).predicted()[0]] == "cat"


def test_dawid_skene_outvotes_a_majority_of_bad_workers():
    rng = np.random.default_rng(0)
    truth = rng.random(300) < 0.5
    votes = []
    for worker, accuracy in (("good", 0.95), ("bad1", 0.55), ("bad2", 0.55)):
        answers = np.where(rng.random(300) < accuracy, truth, ~truth)
        votes += [Vote(i, worker, int(a)) for i, a in enumerate(answers)]
    matrix = VoteMatrix.from_votes(votes)
    ds = dawid_skene(matrix).predicted()
    mv = majority_vote(matrix).predicted()
    assert np.mean(ds == truth) > np.mean(mv == truth) + 0.1


def test_min_votes_keeps_an_unseen_image_open_even_if_the_prior_would_reject_it():
    rule = StoppingRule(accept_threshold=0.99, reject_threshold=0.7, positive=1, min_votes=1)
    # A rare class: the prior alone says P(good) = 0.2 <= 0.3, but nobody has looked yet.
    assert rule.decide({0: 0.8, 1: 0.2}, 0) is Decision.NEED_MORE
    assert rule.decide({0: 0.8, 1: 0.2}, 1) is Decision.REJECT


def test_min_votes_must_fit_under_the_cap():
    with pytest.raises(ValueError, match="min_votes"):
        StoppingRule(max_votes=3, min_votes=4)


def test_reject_threshold_from_costs():
    from consensus.engine.stopping import reject_threshold_for_costs

    # A false reject worth 15 votes, 2 votes to settle: reject once P(good) <= 2/15.
    assert reject_threshold_for_costs(false_reject_cost=15.0, votes_to_settle=2.0) == pytest.approx(
        1 - 2 / 15
    )
    # Cheap false rejects never push the threshold past 1/2 (that would reject likely-good images).
    assert reject_threshold_for_costs(false_reject_cost=1.0) == 0.5
    with pytest.raises(ValueError, match="positive"):
        reject_threshold_for_costs(false_reject_cost=0.0)
