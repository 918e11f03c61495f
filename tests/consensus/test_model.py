"""The consensus model on small hand-made vote sets: agreement, spammers, adversaries, gold."""

from __future__ import annotations

import numpy as np
import pytest

from consensus.engine.model import (
    MixtureStart,
    ModelPriors,
    aggregate,
    aggregate_hierarchy,
    fit_model,
    symmetric_confusion_prior,
)
from consensus.engine.stopping import StoppingRule
from consensus.engine.types import Decision, Vote, VoteMatrix


def _simulate(
    *,
    n_items: int,
    accuracies: dict[str, float],
    seed: int,
    positive_share: float = 0.3,
    constant: dict[str, int] | None = None,
) -> tuple[list[Vote], dict[int, int]]:
    """Every worker answers every item; accuracy < 0.5 is an adversary, `constant` always says X."""
    rng = np.random.default_rng(seed)
    truth = {item: int(rng.random() < positive_share) for item in range(n_items)}
    votes = []
    for worker, accuracy in accuracies.items():
        for item, label in truth.items():
            if constant and worker in constant:
                answer = constant[worker]
            else:
                answer = label if rng.random() < accuracy else 1 - label
            votes.append(Vote(item, worker, answer))
    return votes, truth


def _accuracy(result, truth) -> float:
    return float(np.mean([result.items[item].label == label for item, label in truth.items()]))


def test_unanimous_votes_give_a_confident_accept():
    # Five workers never seen before: each may be a spammer (the mixture prior), so five
    # agreeing votes make a confident, not a certain, accept.
    votes = [Vote("img", worker, 1) for worker in "abcde"]
    rule = StoppingRule(accept_threshold=0.9, reject_threshold=0.9, positive=1)
    result = aggregate(votes, labels=[0, 1], rule=rule)
    assert 0.9 < result.items["img"].posterior[1] < 0.99
    assert result.items["img"].decision is Decision.ACCEPT
    assert result.items["img"].n_votes == 5


def test_an_even_split_stays_uncertain():
    votes = [Vote("img", "a", 1), Vote("img", "b", 0)]
    result = aggregate(votes, labels=[0, 1], rule=StoppingRule(positive=1, max_votes=10))
    assert 0.2 < result.items["img"].posterior[1] < 0.8
    assert result.items["img"].decision is Decision.NEED_MORE


def test_a_single_vote_from_an_unknown_worker_is_not_trusted_fully():
    result = aggregate([Vote("img", "new", 1)], labels=[0, 1], rule=StoppingRule(positive=1))
    assert 0.5 < result.items["img"].posterior[1] < 0.99
    assert result.items["img"].decision is Decision.NEED_MORE


def test_spammers_get_near_zero_reliability_and_do_not_hurt_accuracy():
    votes, truth = _simulate(
        n_items=300,
        accuracies={"good1": 0.85, "good2": 0.85, "good3": 0.8, "uniform": 0.5, "yes_man": 0.5},
        constant={"yes_man": 1},
        seed=1,
    )
    result = aggregate(votes, labels=[0, 1])
    assert abs(result.workers["uniform"].reliability) < 0.15
    assert abs(result.workers["yes_man"].reliability) < 0.15
    assert result.workers["good1"].reliability > 0.55
    honest_only = aggregate(
        [v for v in votes if v.worker not in {"uniform", "yes_man"}], labels=[0, 1]
    )
    assert _accuracy(result, truth) >= _accuracy(honest_only, truth) - 0.01


def test_an_adversarial_worker_is_flipped_into_useful_evidence():
    votes, truth = _simulate(
        n_items=300, accuracies={"good1": 0.8, "good2": 0.8, "liar": 0.05}, seed=2
    )
    result = aggregate(votes, labels=[0, 1])
    assert result.workers["liar"].reliability < -0.7
    assert result.workers["liar"].confusion[1][0] > 0.85
    # With three informative workers the model beats the two honest ones' majority alone.
    assert _accuracy(result, truth) > 0.93


def test_one_worker_only_follows_that_worker():
    votes = [Vote(i, "solo", i % 2) for i in range(20)]
    result = aggregate(votes, labels=[0, 1])
    assert all(result.items[i].label == i % 2 for i in range(20))


def test_multi_class_labels_of_any_hashable_type():
    labels = ["cat", "dog", ("bird", 3)]
    rng = np.random.default_rng(3)
    truth = {item: labels[rng.integers(3)] for item in range(150)}
    votes = []
    for worker in range(5):
        for item, label in truth.items():
            wrong = [other for other in labels if other != label]
            answer = label if rng.random() < 0.75 else wrong[rng.integers(2)]
            votes.append(Vote(item, worker, answer))
    result = aggregate(votes, labels=labels)
    assert set(result.labels) == set(labels)
    assert _accuracy(result, truth) > 0.9
    assert abs(sum(result.items[0].posterior.values()) - 1.0) < 1e-9


def test_gold_items_clamp_their_posterior_and_anchor_workers():
    # Two workers disagree on everything: only gold can tell which one to believe.
    votes = []
    for item in range(30):
        votes.append(Vote(item, "right", item % 2))
        votes.append(Vote(item, "wrong", 1 - item % 2))
    gold = {0: 0, 1: 1, 2: 0, 3: 1}
    result = aggregate(votes, labels=[0, 1], gold=gold)
    assert result.items[0].posterior[0] == 1.0
    assert result.workers["right"].reliability > result.workers["wrong"].reliability
    assert all(result.items[i].label == i % 2 for i in range(30))


def test_gold_item_without_votes_is_still_reported():
    result = aggregate([Vote("a", "w", 1)], labels=[0, 1], gold={"g": 0})
    assert result.items["g"].posterior == {0: 1.0, 1: 0.0}


def test_parent_class_prior_shifts_an_ambiguous_item():
    votes = [Vote("img", "a", 1), Vote("img", "b", 0)]
    rare = aggregate(votes, labels=[0, 1], class_prior={0: 0.9, 1: 0.1})
    common = aggregate(votes, labels=[0, 1], class_prior={0: 0.1, 1: 0.9})
    assert rare.items["img"].posterior[1] < common.items["img"].posterior[1]


def test_worker_skill_is_pooled_across_synsets():
    # "expert" is right on the big synset; on the small one, where alone they disagree with
    # two weak workers, the pooled skill makes their vote count for more.
    big, _ = _simulate(n_items=200, accuracies={"expert": 0.98, "weak1": 0.6, "weak2": 0.6}, seed=4)
    small = [Vote("x", "expert", 1), Vote("x", "weak1", 0), Vote("x", "weak2", 0)]
    pooled = aggregate_hierarchy({"big": big, "small": small}, labels=[0, 1])
    alone = aggregate(small, labels=[0, 1])
    assert pooled["small"].items["x"].posterior[1] > alone.items["x"].posterior[1]
    assert pooled["small"].workers["expert"].reliability > alone.workers["expert"].reliability + 0.2


def test_difficulty_is_higher_for_a_noisier_synset():
    easy, _ = _simulate(n_items=200, accuracies={w: 0.95 for w in "abcde"}, seed=5)
    hard, _ = _simulate(n_items=200, accuracies={w: 0.65 for w in "abcde"}, seed=5)
    easy_result, hard_result = aggregate(easy, labels=[0, 1]), aggregate(hard, labels=[0, 1])
    assert hard_result.difficulty > easy_result.difficulty
    assert hard_result.mean_worker_accuracy < easy_result.mean_worker_accuracy


def test_symmetric_prior_rows_have_the_requested_mean_and_strength():
    prior = symmetric_confusion_prior(4, accuracy=0.7, strength=2.0)
    assert np.allclose(prior.sum(axis=1), 2.0)
    assert np.allclose(np.diag(prior) / 2.0, 0.7)


def test_fixed_symmetric_prior_variant_also_separates_good_from_spam():
    votes, _ = _simulate(n_items=200, accuracies={"g1": 0.9, "g2": 0.9, "s": 0.5}, seed=6)
    matrix = VoteMatrix.from_votes(votes)
    estimate = fit_model(matrix, priors=ModelPriors(pool_population=False))
    skill = np.trace(estimate.confusion, axis1=1, axis2=2) - 1
    assert skill[matrix.workers.index("g1")] > 0.6
    assert abs(skill[matrix.workers.index("s")]) < 0.2


def test_ten_thousand_candidates_are_labelled_accurately():
    # Timing of this fit lives in benchmarks/consensus_recompute.py (no timed assertions here).
    rng = np.random.default_rng(7)
    n_items, n_votes = 10_000, 10
    items = np.repeat(np.arange(n_items), n_votes)
    workers = rng.integers(0, 300, size=items.size)
    truth = rng.random(n_items) < 0.2
    labels = np.where(rng.random(items.size) < 0.85, truth[items], ~truth[items]).astype(int)
    matrix = VoteMatrix(
        items=tuple(range(n_items)),
        workers=tuple(range(300)),
        labels=(0, 1),
        item_index=items,
        worker_index=workers,
        label_index=labels,
    )
    estimate = fit_model(matrix)
    assert np.mean(estimate.predicted() == truth) > 0.99
    assert estimate.iterations >= 2
    assert np.isfinite(estimate.log_likelihood)


def _crowd_votes(rng, n_items: int, workers: dict[str, float]) -> tuple[list[Vote], np.ndarray]:
    """Each image answered by five of ``workers`` (name → accuracy; None answers at random)."""
    truth = rng.random(n_items) < 0.3
    names = list(workers)
    votes = []
    for item in range(n_items):
        for name in rng.choice(names, size=5, replace=False):
            accuracy = workers[name]
            if accuracy is None:
                answer = int(rng.random() < 0.5)
            else:
                answer = int(truth[item] if rng.random() < accuracy else not truth[item])
            votes.append(Vote(item, str(name), answer))
    return votes, truth


def test_a_resumed_fit_lands_where_a_cold_fit_does_and_still_judges_new_workers():
    # A synset fitted once; then one more HIT's worth of votes, from a new random spammer.
    # Resuming from the last fit (its posterior, rounded as the recompute stores it, and its
    # mixture) must give what a cold fit with several starts gives.
    rng = np.random.default_rng(11)
    crowd = {f"w{i}": accuracy for i, accuracy in enumerate([0.9, 0.85, 0.8, 0.8, 0.75] * 4)}
    crowd["random"] = None
    votes, truth = _crowd_votes(rng, 600, crowd)
    matrix = VoteMatrix.from_votes(votes, label_set=[0, 1])
    first = fit_model(matrix)
    new = [Vote(item, "newcomer", int(rng.random() < 0.5)) for item in range(0, 600, 10)]
    grown = VoteMatrix.from_votes(votes + new, label_set=[0, 1])
    cold = fit_model(grown)
    last = MixtureStart(
        honest=dict(zip(matrix.workers, first.honest.tolist(), strict=True)),
        honest_share=first.honest_share,
    )
    resumed = fit_model(grown, init_posterior=np.round(first.posterior, 4), resume=last)
    assert resumed.predicted().tolist() == cold.predicted().tolist()
    # Within what the mixture's settling leaves open (responsibilities are kept once they move
    # less than 10⁻² in an iteration, in either fit).
    assert np.abs(resumed.posterior - cold.posterior).max() < 5e-3
    # Every worker's responsibility is the cold fit's; the newcomer, answering at random, was
    # judged by this fit's evidence instead of staying at the crowd's share.
    assert np.abs(resumed.honest - cold.honest).max() < 0.05
    newcomer = grown.workers.index("newcomer")
    assert resumed.honest[newcomer] < resumed.honest_share - 0.1
    assert resumed.iterations < cold.iterations
    assert np.mean(resumed.predicted() == truth) > 0.9


def test_resuming_needs_the_last_posterior():
    matrix = VoteMatrix.from_votes([Vote(0, "a", 1), Vote(0, "b", 1)], label_set=[0, 1])
    with pytest.raises(ValueError, match="init_posterior"):
        fit_model(matrix, resume=MixtureStart(honest={"a": 0.9}, honest_share=0.9))


def test_prior_initialisation_starts_from_the_prior_worker_not_from_certainty():
    # Every item has one vote: nothing identifies the workers, so the prior must speak.
    votes = [Vote(i, f"w{i % 5}", i % 2) for i in range(40)]
    matrix = VoteMatrix.from_votes(votes)
    estimate = fit_model(matrix, priors=ModelPriors(init="prior"), max_iter=1)
    assert np.all(estimate.posterior.max(axis=1) < 0.9)


def test_collapsed_e_step_does_not_let_a_workers_votes_vouch_for_themselves():
    # Two workers, each seen on four items only, always agree: plain EM credits them with the
    # agreement they created; leaving each vote out keeps the posterior more modest.
    votes = [Vote(i, w, i % 2) for i in range(4) for w in ("a", "b")]
    matrix = VoteMatrix.from_votes(votes, label_set=[0, 1])
    plain = fit_model(matrix, priors=ModelPriors(collapsed=False))
    collapsed = fit_model(matrix, priors=ModelPriors(collapsed=True))
    assert 0.5 < collapsed.posterior[1, 1] < plain.posterior[1, 1]
    assert collapsed.predicted().tolist() == plain.predicted().tolist() == [0, 1, 0, 1]


def test_collapsed_e_step_keeps_spammers_and_good_workers_apart():
    votes, truth = _simulate(
        n_items=200, accuracies={"g1": 0.9, "g2": 0.9, "g3": 0.85, "s": 0.5}, seed=8
    )
    matrix = VoteMatrix.from_votes(votes)
    estimate = fit_model(matrix, priors=ModelPriors(collapsed=True))
    skill = np.trace(estimate.confusion, axis1=1, axis2=2) - 1
    assert skill[matrix.workers.index("g1")] > 0.6
    assert abs(skill[matrix.workers.index("s")]) < 0.2
    predicted = estimate.predicted()
    assert np.mean([predicted[matrix.items.index(i)] == t for i, t in truth.items()]) > 0.95


def test_relative_worker_prior_follows_the_synsets_difficulty():
    # Elsewhere everyone was 95% right; this synset is hard (70%). An absolute prior keeps a new
    # worker at ~95%; the relative prior moves them to this synset's level.
    rng = np.random.default_rng(9)
    elsewhere = {w: 4.0 * np.array([[0.95, 0.05], [0.05, 0.95]]) for w in range(12)}
    truth = rng.random(300) < 0.5
    votes = []
    for worker in range(12):
        for item in rng.choice(300, 60, replace=False):
            answer = truth[item] if rng.random() < 0.7 else not truth[item]
            votes.append(Vote(int(item), worker, int(answer)))
    votes.append(Vote(0, "fresh-elsewhere-known", 1))
    prior = {**elsewhere, "fresh-elsewhere-known": elsewhere[0]}
    matrix = VoteMatrix.from_votes(votes, label_set=[0, 1])
    absolute = fit_model(
        matrix, worker_prior=prior, priors=ModelPriors(relative_worker_prior=False)
    )
    relative = fit_model(matrix, worker_prior=prior)
    fresh = matrix.workers.index("fresh-elsewhere-known")
    assert relative.confusion[fresh, 1, 1] < absolute.confusion[fresh, 1, 1] - 0.1
    assert abs(relative.confusion[fresh, 1, 1] - 0.7) < 0.1
