"""Calibrated stopping: spammer mixture, image difficulty, robust EM, calibration on the seed set,
the two-informative-votes guard, and the choice between worker and exchangeable models."""

from __future__ import annotations

import numpy as np
import pytest

from consensus.engine.calibration import (
    FALLBACK_CAP,
    established_workers,
    fit_calibration,
    fit_platt_calibration,
    prefix_posteriors,
    reliability_table,
    vote_support,
)
from consensus.engine.dynamic import decide_synset
from consensus.engine.majority import majority_vote
from consensus.engine.model import ModelPriors, fit_model, item_correlation
from consensus.engine.stopping import ACCEPT, NEED_MORE, REJECT, StoppingRule
from consensus.engine.types import VoteMatrix
from consensus.engine.vote_counts import fit_ceiling


def _crowd(
    *,
    n_items: int,
    votes_per_item: int,
    accuracy: np.ndarray,
    seed: int,
    difficulty_spread: float = 0.0,
    positive_share: float = 0.3,
) -> tuple[VoteMatrix, np.ndarray]:
    """Binary votes; each item draws distinct workers; ``difficulty_spread`` > 0 gives every
    image its own accuracy shift (hard images make everyone err together)."""
    rng = np.random.default_rng(seed)
    n_workers = accuracy.size
    truth = (rng.random(n_items) < positive_share).astype(np.int64)
    workers = np.argsort(rng.random((n_items, n_workers)), axis=1)[:, :votes_per_item]
    shift = rng.normal(0.0, difficulty_spread, n_items)[:, None] if difficulty_spread else 0.0
    p_right = np.clip(accuracy[workers] + shift, 0.02, 0.999)
    right = rng.random(workers.shape) < p_right
    labels = np.where(right, truth[:, None], 1 - truth[:, None])
    matrix = VoteMatrix(
        items=tuple(range(n_items)),
        workers=tuple(range(n_workers)),
        labels=(0, 1),
        item_index=np.repeat(np.arange(n_items), votes_per_item),
        worker_index=workers.ravel(),
        label_index=labels.ravel(),
    )
    return matrix, truth


def test_a_single_majority_vote_is_not_certainty():
    matrix = VoteMatrix.from_columns(["a"], ["w"], [1], label_set=[0, 1])
    assert majority_vote(matrix).posterior[0].tolist() == pytest.approx([1 / 3, 2 / 3])
    assert majority_vote(matrix, smoothing=0.0).posterior[0].tolist() == [0.0, 1.0]


def test_spammer_mixture_finds_the_spammers_and_their_share():
    accuracy = np.r_[np.full(30, 0.85), np.full(10, 0.5)]
    matrix, _ = _crowd(n_items=600, votes_per_item=8, accuracy=accuracy, seed=1)
    estimate = fit_model(matrix)
    assert estimate.honest is not None
    assert estimate.honest[:30].min() > 0.9
    # 120 answers at chance: the honest model (own confusion under the population prior) could
    # still explain them, so the evidence is a few nats, not certainty.
    assert estimate.honest[30:].max() < 0.6
    assert estimate.honest[30:].mean() < 0.45
    assert 0.6 < estimate.honest_share < 0.9


def test_sparse_votes_do_not_make_honest_long_tail_workers_spammers():
    """Two votes per image from a crowd with a long tail (most workers answer a handful): the
    other vote on an image says little, so an honest worker's few answers cannot look random.
    The Dirichlet-multinomial evidence of expected counts called most of them spammers here
    (median responsibility 0.1, honest share at its floor of 0.5)."""
    rng = np.random.default_rng(3)
    n_items, n_workers = 3000, 600
    activity = rng.lognormal(0.0, 1.5, n_workers)
    activity /= activity.sum()
    spammer = np.zeros(n_workers, dtype=bool)
    spammer[rng.permutation(n_workers)[:60]] = True
    truth = (rng.random(n_items) < 0.2).astype(np.int64)
    workers = np.array([rng.choice(n_workers, 2, replace=False, p=activity) for _ in truth])
    right = rng.random(workers.shape) < 0.95
    labels = np.where(right, truth[:, None], 1 - truth[:, None])
    labels = np.where(spammer[workers], rng.integers(0, 2, workers.shape), labels)
    matrix = VoteMatrix(
        items=tuple(range(n_items)),
        workers=tuple(range(n_workers)),
        labels=(0, 1),
        item_index=np.repeat(np.arange(n_items), 2),
        worker_index=workers.ravel(),
        label_index=labels.ravel(),
    )
    estimate = fit_model(matrix)
    answered = np.bincount(matrix.worker_index, minlength=n_workers)
    few = ~spammer & (answered >= 3) & (answered <= 10)
    assert few.sum() > 50
    assert np.median(estimate.honest[few]) > 0.8
    assert (estimate.honest[few] < 0.5).mean() < 0.05
    assert estimate.honest_share > 0.75
    busy = answered >= 20
    assert estimate.honest[spammer & busy].mean() < estimate.honest[~spammer & busy].mean()


def test_image_difficulty_is_measured_and_zero_without_it():
    accuracy = np.full(40, 0.8)
    plain, _ = _crowd(n_items=800, votes_per_item=6, accuracy=accuracy, seed=2)
    varied, _ = _crowd(
        n_items=800, votes_per_item=6, accuracy=accuracy, seed=2, difficulty_spread=0.25
    )
    plain_fit, varied_fit = fit_model(plain), fit_model(varied)
    assert plain_fit.item_correlation < 0.03
    assert varied_fit.item_correlation > 0.04
    assert item_correlation(varied, varied_fit.posterior, varied_fit.confusion) > 0.04


def test_image_difficulty_makes_many_votes_less_certain_but_keeps_the_label():
    accuracy = np.full(40, 0.8)
    matrix, _ = _crowd(
        n_items=800, votes_per_item=6, accuracy=accuracy, seed=3, difficulty_spread=0.25
    )
    with_effect = fit_model(matrix)
    without = fit_model(matrix, priors=ModelPriors(item_difficulty=False))
    assert np.array_equal(with_effect.predicted(), without.predicted())
    assert with_effect.posterior.max(axis=1).mean() < without.posterior.max(axis=1).mean()


def test_a_first_round_of_one_vote_per_image_decides_nothing():
    """20,000 images, one vote each from 500 workers: EM must not rate every worker perfect,
    and no image may be decided on one unknown worker's vote."""
    rng = np.random.default_rng(4)
    n_items, n_workers = 20_000, 500
    truth = rng.random(n_items) < 0.3
    skill = np.clip(rng.normal(0.8, 0.1, n_workers), 0.5, 0.99)
    workers = rng.integers(0, n_workers, n_items)
    labels = np.where(rng.random(n_items) < skill[workers], truth, ~truth).astype(np.int64)
    matrix = VoteMatrix(
        items=tuple(range(n_items)),
        workers=tuple(range(n_workers)),
        labels=(0, 1),
        item_index=np.arange(n_items),
        worker_index=workers,
        label_index=labels,
    )
    estimate = fit_model(matrix)
    assert estimate.posterior.max(axis=1).max() < 0.99
    rule = StoppingRule(accept_threshold=0.95, reject_threshold=0.95, positive=1)
    decision = decide_synset(matrix, rule=rule)
    assert np.all(decision.codes == NEED_MORE)


def test_a_stray_third_label_does_not_collapse_the_model():
    accuracy = np.r_[np.full(20, 0.9), np.full(10, 0.6)]
    matrix, truth = _crowd(n_items=300, votes_per_item=8, accuracy=accuracy, seed=5)
    clean = fit_model(matrix)
    stray = VoteMatrix(
        items=matrix.items,
        workers=matrix.workers,
        labels=(0, 1, "yes"),
        item_index=np.r_[matrix.item_index, np.arange(5)],
        worker_index=np.r_[matrix.worker_index, np.arange(5)],
        label_index=np.r_[matrix.label_index, np.full(5, 2)],
    )
    dirty = fit_model(stray)
    clean_accuracy = np.mean(clean.predicted() == truth)
    assert np.mean(dirty.predicted() == truth) >= clean_accuracy - 0.02


def _seeded(seed: int, *, n_items: int = 1500, seed_images: int = 100):
    """Seed images with 10 votes, the others with 1–4 (as when collection is under way)."""
    rng = np.random.default_rng(seed)
    accuracy = np.clip(rng.normal(0.8, 0.08, 60), 0.55, 0.98)
    full, truth = _crowd(
        n_items=n_items, votes_per_item=10, accuracy=accuracy, seed=seed, difficulty_spread=0.15
    )
    shown = rng.integers(1, 5, n_items)
    shown[:seed_images] = 10
    rank = np.tile(np.arange(10), n_items)
    return full.subset(rank < shown[full.item_index]), truth, np.arange(seed_images)


def test_calibrated_probabilities_keep_their_promise():
    matrix, truth, seed_rows = _seeded(6)
    rule = StoppingRule(accept_threshold=0.95, reject_threshold=0.95, positive=1)
    decision = decide_synset(matrix, rule=rule, seed_rows=seed_rows)
    raw_best = decision.estimate.posterior.max(axis=1)
    assert np.all(decision.posterior.max(axis=1) <= raw_best + 1e-12)
    decided = np.isin(decision.codes, (ACCEPT, REJECT))
    decided[seed_rows] = False
    assert decided.sum() > 40
    label = decision.posterior.argmax(axis=1)
    assert np.mean(label[decided] == truth[decided]) >= 0.95


def test_without_reference_data_nothing_is_certified_above_the_cap():
    matrix, _, _ = _seeded(7, seed_images=0)
    estimate = fit_model(matrix)
    calibration = fit_calibration(matrix, estimate, seed_rows=np.array([], dtype=np.int64))
    assert calibration.sources() == {"0": "fallback", "1": "fallback"}
    assert calibration.apply(estimate.posterior).max() <= FALLBACK_CAP


def test_gold_images_calibrate_and_establish_their_workers():
    matrix, truth, _ = _seeded(8, seed_images=0)
    gold = {item: int(truth[item]) for item in range(200)}
    estimate = fit_model(matrix, gold=gold)
    calibration = fit_calibration(
        matrix, estimate, seed_rows=np.array([], dtype=np.int64), gold=gold
    )
    assert calibration.gold_images > 100
    assert "observations" in calibration.sources()["0"]


def test_one_vote_decides_only_for_a_worker_established_on_gold():
    # "star" answered 40 gold images right; "new" answered none.
    items = [f"g{k}" for k in range(40)] + ["x", "y"]
    workers = ["star"] * 40 + ["star", "new"]
    labels = [k % 2 for k in range(40)] + [1, 1]
    # Others answer the gold images too, so the confusions are learnt.
    for helper in range(6):
        items += [f"g{k}" for k in range(40)]
        workers += [f"h{helper}"] * 40
        labels += [k % 2 for k in range(40)]
    matrix = VoteMatrix.from_columns(items, workers, labels, label_set=[0, 1])
    gold = {f"g{k}": k % 2 for k in range(40)}
    established = established_workers(matrix, gold)
    assert established[matrix.workers.index("star")]
    assert not established[matrix.workers.index("new")]
    estimate = fit_model(matrix, gold=gold)
    support = vote_support(matrix, estimate, established=established)
    rule = StoppingRule(accept_threshold=0.6, reject_threshold=0.6, positive=1)
    codes = rule.decide_many(
        estimate.posterior, matrix.votes_per_item(), labels=(0, 1), support=support
    )
    assert codes[matrix.items.index("x")] == ACCEPT
    assert codes[matrix.items.index("y")] == NEED_MORE


def test_exchangeable_model_is_chosen_when_workers_are_alike():
    alike, _ = _crowd(n_items=400, votes_per_item=10, accuracy=np.full(30, 0.75), seed=9)
    differ, _ = _crowd(
        n_items=400, votes_per_item=10, accuracy=np.r_[np.full(15, 0.95), np.full(15, 0.55)],
        seed=9,
    )  # fmt: skip
    rule = StoppingRule(positive=1)
    assert decide_synset(alike, rule=rule).model == "exchangeable"
    chosen = decide_synset(differ, rule=rule)
    assert chosen.model == "workers"
    assert chosen.held_out["workers"] > chosen.held_out["exchangeable"]


def test_reliability_table_bins_predictions():
    confidence = np.array([0.55, 0.65, 0.96, 0.97, 0.995])
    right = np.array([1.0, 0.0, 1.0, 1.0, 1.0])
    rows = reliability_table(confidence, right)
    assert [row["n"] for row in rows] == [2, 2, 1]
    assert rows[0]["observed"] == 0.5


def _counts(rng, n_items, rates_good, rates_bad, share=0.3, votes=10):
    good = rng.random(n_items) < share
    rate = np.where(good, rates_good(n_items), rates_bad(n_items))
    yes = rng.binomial(votes, rate)
    return yes, votes - yes, good


def test_vote_count_ceiling_learns_how_often_a_whole_crowd_errs():
    rng = np.random.default_rng(10)
    # Easy: every image gets "yes" from ~90% (good) or ~10% (bad) of the votes.
    easy = _counts(rng, 300, lambda n: rng.beta(45, 5, n), lambda n: rng.beta(5, 45, n))
    # Look-alikes: image-level yes-rates spread widely, some bad images fool most workers.
    hard = _counts(rng, 300, lambda n: rng.beta(4, 1.5, n), lambda n: rng.beta(1.5, 4, n))
    easy_fit = fit_ceiling(easy[0], easy[1])
    hard_fit = fit_ceiling(hard[0], hard[1])
    assert easy_fit is not None and hard_fit is not None
    assert easy_fit.p_good(np.array([5]), np.array([0]))[0] > 0.999
    assert hard_fit.p_good(np.array([5]), np.array([0]))[0] < 0.99
    assert hard_fit.as_dict()["near_half_good"] > easy_fit.as_dict()["near_half_good"]


def test_vote_count_ceiling_sees_a_few_per_cent_of_look_alikes():
    # A fifth of the images are good (yes-rate ~0.93); of the bad ones, 8% are look-alikes that
    # draw "yes" a third of the time, beside a bulk at ~0.05. Then 5 yes / 2 no is far from
    # sure: under this very mixture P(good | 5, 2) = 0.2·0.93⁵0.07² / (that + 0.8·(0.92·0.05⁵0.95²
    # + 0.08·0.35⁵0.65²)) ≈ 0.83. One Beta per truth, fitted to the same counts, said 0.94.
    rng = np.random.default_rng(14)

    def bad(n):
        return np.where(rng.random(n) < 0.08, rng.beta(35, 65, n), rng.beta(5, 95, n))

    yes, no, _ = _counts(rng, 2000, lambda n: rng.beta(93, 7, n), bad, share=0.2)
    fit = fit_ceiling(yes, no)
    assert fit is not None
    p = fit.p_good(np.array([5, 7, 10]), np.array([2, 0, 0]))
    assert 0.7 < p[0] < 0.9
    # Unanimous images stay convincing: the tail costs nothing where there is no dissent.
    assert p[1] > 0.999 and p[2] > 0.9999


def test_vote_count_ceiling_uses_known_truth_and_needs_enough_images():
    rng = np.random.default_rng(11)
    yes, no, good = _counts(rng, 200, lambda n: rng.beta(8, 2, n), lambda n: rng.beta(2, 8, n))
    fit = fit_ceiling(yes, no, truth=good.astype(int))
    assert fit is not None
    assert abs(fit.good_share - good.mean()) < 0.05
    assert fit_ceiling(yes[:5], no[:5]) is None
    # Images without a vote say nothing and do not count towards the minimum.
    assert fit_ceiling(np.r_[yes[:5], np.zeros(30)], np.r_[no[:5], np.zeros(30)]) is None


def test_platt_bound_is_cautious_and_never_extrapolates():
    rng = np.random.default_rng(12)
    confidence = rng.uniform(0.5, 0.99, 2000)
    right = (rng.random(2000) < confidence).astype(float)  # perfectly calibrated
    groups = np.repeat(np.arange(200), 10)
    (platt,) = fit_platt_calibration(confidence, right, np.ones(2000), groups)
    assert platt is not None
    grid = np.array([0.6, 0.8, 0.95, 0.99])
    bound = platt(grid)
    point = 1 / (1 + np.exp(-(platt.intercepts[0] + platt.slopes[0] * np.log(grid / (1 - grid)))))
    assert np.all(bound <= point + 1e-12)
    assert np.all(np.abs(point - grid) < 0.03)
    assert platt(np.array([0.999999]))[0] == pytest.approx(platt(np.array([0.99]))[0], abs=0.01)


def test_images_with_many_votes_join_the_references():
    matrix, _, _ = _seeded(13, seed_images=60)
    rule = StoppingRule(accept_threshold=0.95, reject_threshold=0.95, positive=1)
    decision = decide_synset(matrix, rule=rule, seed_rows=np.arange(10))
    assert decision.calibration.reference_images == 60
    assert decision.ceiling is not None and decision.ceiling.images >= 60


def _with_votes(matrix: VoteMatrix, items, workers, labels) -> VoteMatrix:
    """The same vocabularies with some votes added (new workers appended)."""
    known = list(matrix.workers)
    new = [w for w in dict.fromkeys(workers) if w not in known]
    vocabulary = (*matrix.workers, *new)
    position = {w: i for i, w in enumerate(vocabulary)}
    return VoteMatrix(
        items=matrix.items,
        workers=vocabulary,
        labels=matrix.labels,
        item_index=np.r_[matrix.item_index, np.asarray(items)],
        worker_index=np.r_[matrix.worker_index, [position[w] for w in workers]],
        label_index=np.r_[matrix.label_index, np.asarray(labels)],
    )


def test_a_new_vote_redraws_only_its_own_images_calibration_orders():
    """The calibration's vote orders belong to the image: a vote more on one image leaves the
    prefixes of every other image exactly as they were."""
    matrix, _ = _crowd(n_items=300, votes_per_item=10, accuracy=np.full(20, 0.8), seed=31)
    estimate = fit_model(matrix)
    rows = np.arange(matrix.n_items)
    voted = set(matrix.worker_index[matrix.item_index == 5].tolist())
    newcomer = next(w for w in range(matrix.n_workers) if w not in voted)
    grown = _with_votes(matrix, [5], [matrix.workers[newcomer]], [1])
    before = prefix_posteriors(matrix, estimate, rows)
    after = prefix_posteriors(grown, estimate, rows)
    keep_before, keep_after = before[0] != 5, after[0] != 5
    for old, new in zip(before, after, strict=True):
        # (Equal up to rounding: the prefix sums are taken over all images at once.)
        assert np.allclose(old[keep_before], new[keep_after], rtol=1e-12, atol=1e-12)
    assert np.count_nonzero(after[0] == 5) > np.count_nonzero(before[0] == 5)


def test_one_hit_moves_few_posteriors_of_a_settled_synset():
    """A recompute after one HIT resumes the fit and recalibrates. With the calibration redrawn
    from scratch whenever a vote landed on a reference image, 40–90% of the posteriors moved by
    more than the stored tolerance after each HIT (and the rows were rewritten); now only images
    whose evidence changed, or that the curve's own shift moves, do."""
    accuracy = np.random.default_rng(32).uniform(0.6, 0.97, 30)
    matrix, _ = _crowd(n_items=2000, votes_per_item=10, accuracy=accuracy, seed=32)
    rule = StoppingRule(accept_threshold=0.997, reject_threshold=0.95, max_votes=12, positive=1)
    last = decide_synset(matrix, rule=rule, seed_rows=np.arange(50))
    assert last.model == "workers"
    rng = np.random.default_rng(33)
    for newcomer in (1000, 1001, 1002):
        hit = rng.choice(matrix.n_items, 24, replace=False)
        matrix = _with_votes(matrix, hit, [newcomer] * hit.size, rng.integers(0, 2, hit.size))
        this = decide_synset(
            matrix, rule=rule, seed_rows=np.arange(50), init_posterior=last.estimate.posterior,
            resume=last.mixture, choose_model=False,
        )  # fmt: skip
        moved = np.abs(this.posterior[:, 1] - last.posterior[:, 1]) >= 5e-4
        assert np.count_nonzero(moved) < 0.1 * matrix.n_items
        last = this
