"""ImageNet's confidence table (Deng et al. 2009 §3.2, Fig. 7): estimated, smoothed, monotone."""

from __future__ import annotations

import numpy as np
import pytest

from consensus.engine.confidence_table import (
    build_confidence_table,
    confidence_table_from_votes,
    majority_truth,
    seed_sample,
)
from consensus.engine.types import Decision, Vote


def _seed_counts(accuracy: float, *, n_images: int = 300, seed: int = 0, votes: int = 10):
    rng = np.random.default_rng(seed)
    good = rng.random(n_images) < 0.3
    yes = rng.binomial(votes, np.where(good, accuracy, 1 - accuracy))
    return yes, votes - yes


def _cells(table):
    inside = ~np.isnan(table.p_good)
    return table.p_good, inside


@pytest.mark.parametrize("accuracy", [0.95, 0.7, 0.55])
def test_table_is_monotone_in_both_counts_and_strictly_inside_zero_one(accuracy):
    table = build_confidence_table(*_seed_counts(accuracy))
    p_good, inside = _cells(table)
    for no in range(table.max_votes + 1):
        column = p_good[: table.max_votes + 1 - no, no]
        assert np.all(np.diff(column) >= -1e-9), "more yes votes must not lower P(good)"
    for yes in range(table.max_votes + 1):
        row = p_good[yes, : table.max_votes + 1 - yes]
        assert np.all(np.diff(row) <= 1e-9), "more no votes must not raise P(good)"
    assert np.all(p_good[inside] > 0.0)
    assert np.all(p_good[inside] < 1.0)


def test_sampling_noise_that_breaks_monotonicity_is_projected_away():
    # Tiny seed: raw cell estimates are noisy; the projection must still be monotone.
    yes = np.array([10, 9, 2, 1, 0, 6, 4])
    no = 10 - yes
    table = build_confidence_table(yes, no, prior_strength=0.1)
    p_good, _ = _cells(table)
    assert np.all(np.diff(p_good[:11, 0]) >= -1e-9)


def test_harder_synset_has_a_flatter_table_like_burmese_cat():
    cat = build_confidence_table(*_seed_counts(0.95))
    burmese = build_confidence_table(*_seed_counts(0.7))
    assert cat.p(1, 0) > burmese.p(1, 0)
    assert cat.p(0, 1) < burmese.p(0, 1)
    assert burmese.semantic_difficulty > cat.semantic_difficulty
    # One vote either way is not enough anywhere (Fig. 7: P(1 yes) = 0.85 even for "cat").
    assert 0.5 < cat.p(1, 0) < 0.99


def test_stopping_rule_asks_again_until_the_threshold_or_the_cap():
    table = build_confidence_table(*_seed_counts(0.9))
    assert table.decide(1, 0, accept_threshold=0.99) is Decision.NEED_MORE
    assert table.decide(6, 0, accept_threshold=0.99) is Decision.ACCEPT
    assert table.decide(0, 4, reject_threshold=0.99) is Decision.REJECT
    assert table.decide(2, 2, max_votes=4) is Decision.UNDECIDED
    with pytest.raises(ValueError, match="outside"):
        table.p(8, 8)


def test_rows_render_like_figure_seven():
    table = build_confidence_table(*_seed_counts(0.9))
    rows = table.rows(max_total=3)
    assert (1, 0, round(table.p(1, 0), 2)) in rows
    assert (2, 1, round(table.p(2, 1), 2)) in rows
    assert len(rows) == 2 + 3 + 4
    text = table.render(3)
    assert text.splitlines()[0].startswith("yes")
    assert len(text.splitlines()) == 10


def test_majority_truth_counts_ties_as_half():
    assert majority_truth(np.array([6, 5, 2]), np.array([4, 5, 8])).tolist() == [1.0, 0.5, 0.0]


def test_table_from_votes_ignores_images_with_fewer_than_ten_votes():
    votes = [Vote(image, f"w{w}", "yes") for image in range(20) for w in range(10)]
    votes += [Vote("thin", "w0", "no")]
    table = confidence_table_from_votes(votes, positive="yes")
    assert table.max_votes == 10
    assert table.good_share > 0.99
    with pytest.raises(ValueError, match="at least 10"):
        confidence_table_from_votes(votes[-1:], positive="yes")


def test_seed_sample_is_a_reproducible_subset():
    candidates = [f"img{i}" for i in range(100)]
    first = seed_sample(candidates, size=10, seed=3)
    assert first == seed_sample(candidates, size=10, seed=3)
    assert len(set(first)) == 10
    assert set(first) <= set(candidates)
