"""One synset's dynamic consensus, end to end: fit the worker model, choose between it and
exchangeable workers by held-out likelihood on the seed set, calibrate the posterior on the seed
and gold images, cap it (yes/no projects) by what the vote counts alone can support under a
binomial mixture over image difficulty, and decide each image on these probabilities when at
least two informative votes back the label (Deng et al. 2009 §3.2, with :mod:`calibration` and
:mod:`vote_counts`)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from consensus.engine.calibration import (
    SEED_MIN_VOTES,
    Calibration,
    established_workers,
    fit_calibration,
    stable_subset,
    vote_support,
)
from consensus.engine.dawid_skene import softmax_rows
from consensus.engine.model import (
    DEFAULT_PRIORS,
    MixtureStart,
    ModelPriors,
    evidence_weight,
    fit_model,
)
from consensus.engine.stopping import StoppingRule
from consensus.engine.types import Estimate, VoteMatrix
from consensus.engine.vote_counts import VoteCountCeiling, fit_ceiling

MIN_SELECTION_IMAGES = 10  # seed images needed before the held-out choice of model is made
MAX_SELECTION_IMAGES = 1000  # the held-out choice of model uses at most this many


@dataclass(frozen=True)
class SynsetDecision:
    estimate: Estimate  # the chosen model's fit (raw posterior)
    posterior: np.ndarray  # calibrated (items × labels)
    support: np.ndarray  # informative votes behind each label
    codes: np.ndarray  # stopping-rule codes (stopping.ACCEPT …)
    calibration: Calibration
    model: str  # "workers" or "exchangeable"
    held_out: dict[str, float]  # mean held-out log-likelihood per seed vote of each model
    ceiling: VoteCountCeiling | None = None  # yes/no projects with ≥ 20 voted images
    # The worker model's mixture at the end of this fit (whichever model was chosen): the next
    # fit of the synset can resume from it. None without a spammer/honest mixture.
    mixture: MixtureStart | None = None


def held_out_log_likelihood(matrix: VoteMatrix, estimate: Estimate, rows: np.ndarray) -> float:
    """Mean log P(vote | the image's other votes) over the votes on ``rows``: each vote is
    predicted from the posterior its image has without it, through its worker's confusion."""
    assert estimate.confusion is not None
    keep = np.isin(matrix.item_index, rows)
    if not keep.any():
        return float("nan")
    items = matrix.item_index[keep]
    workers, given = matrix.worker_index[keep], matrix.label_index[keep]
    columns = estimate.confusion[workers, :, given]
    if estimate.alpha is not None:
        # The worker's confusion without this vote's own expected count (otherwise a worker's
        # answer would vouch for itself and the per-worker model would always look better).
        share = estimate.posterior[items]
        cell = np.maximum(estimate.alpha[workers, :, given] - share, 1e-12)
        row = np.maximum(estimate.alpha.sum(axis=-1)[workers] - share, 1e-12)
        columns = cell / row
        if estimate.honest is not None and estimate.spam_rows is not None:
            honest = estimate.honest[workers][:, None]
            columns = honest * columns + (1 - honest) * estimate.spam_rows[workers, given][:, None]
    columns = np.maximum(columns, 1e-300)
    per_vote = np.log(columns)
    sums = np.zeros((matrix.n_items, matrix.n_labels))
    np.add.at(sums, items, per_vote)
    n_votes = matrix.votes_per_item()
    weight = evidence_weight(n_votes[items] - 1, estimate.item_correlation)[:, None]
    log_prior = np.log(np.maximum(estimate.class_prior, 1e-300))
    without = softmax_rows(log_prior + weight * (sums[items] - per_vote))
    return float(np.log(np.maximum((without * columns).sum(axis=1), 1e-300)).mean())


def decide_synset(
    matrix: VoteMatrix,
    *,
    rule: StoppingRule,
    gold: Mapping[Hashable, Hashable] | None = None,
    seed_rows: np.ndarray | None = None,
    priors: ModelPriors = DEFAULT_PRIORS,
    worker_prior: Mapping[Hashable, np.ndarray] | None = None,
    class_prior_counts: np.ndarray | None = None,
    init_posterior: np.ndarray | None = None,
    resume: MixtureStart | None = None,
    vote_limit: np.ndarray | None = None,
    choose_model: bool = True,
    use_ceiling: bool = True,
    seed: int = 0,
) -> SynsetDecision:
    """Fit, choose, calibrate and decide (see the module docstring).

    ``seed_rows``: the seed images; every image with ≥ 10 votes joins them. Gold images are
    clamped in the fit, calibrate the posterior, and establish the workers who answered them.
    ``resume`` (with ``init_posterior``): continue the synset's last fit from one start (see
    :func:`consensus.engine.model.fit_model`); the returned ``mixture`` is what to resume from.
    """
    n_votes = matrix.votes_per_item()
    # Every image with ≥ 10 votes is a reference too (images that needed many votes are the
    # harder ones: they make the calibration more cautious, never less).
    many = np.flatnonzero(n_votes >= SEED_MIN_VOTES)
    seed_rows = many if seed_rows is None else np.union1d(np.asarray(seed_rows, np.int64), many)
    seed_rows = seed_rows.astype(np.int64)
    estimate = fit_model(
        matrix, gold=gold, priors=priors, worker_prior=worker_prior,
        class_prior_counts=class_prior_counts, init_posterior=init_posterior, resume=resume,
    )  # fmt: skip
    mixture = None
    if estimate.honest is not None:
        mixture = MixtureStart(
            honest=dict(zip(matrix.workers, estimate.honest.tolist(), strict=True)),
            honest_share=estimate.honest_share,
        )
    model = "workers"
    held_out: dict[str, float] = {}
    selection_rows = seed_rows[n_votes[seed_rows] >= 2]
    # Drawn per image, like the calibration's references (see stable_random).
    selection_rows = stable_subset(matrix, selection_rows, MAX_SELECTION_IMAGES, seed)
    if choose_model and not priors.pooled_workers and selection_rows.size >= MIN_SELECTION_IMAGES:
        exchangeable = fit_model(
            matrix, gold=gold, class_prior_counts=class_prior_counts,
            priors=replace(priors, pooled_workers=True, spammer_mixture=False, init="majority"),
            init_posterior=estimate.posterior,
        )  # fmt: skip
        held_out = {
            "workers": held_out_log_likelihood(matrix, estimate, selection_rows),
            "exchangeable": held_out_log_likelihood(matrix, exchangeable, selection_rows),
        }
        if held_out["exchangeable"] > held_out["workers"]:
            estimate, model = exchangeable, "exchangeable"
    calibration = fit_calibration(
        matrix, estimate, seed_rows=seed_rows, gold=gold, max_size=rule.max_votes, seed=seed
    )
    posterior = calibration.apply(estimate.posterior)
    support = vote_support(matrix, estimate, established=established_workers(matrix, gold))
    gold_codes = matrix.label_codes(gold)
    ceiling = None
    if matrix.n_labels == 2 and use_ceiling:
        # Fitted on every voted image's informative vote counts (second label = "yes"): a
        # spammer's "yes" is no evidence, so it must not make the counts look less convincing
        # than they are. Gold enters with its truth.
        ceiling = fit_ceiling(support[:, 1], support[:, 0], truth=gold_codes)
        if ceiling is not None:
            p_second = ceiling.p_good(support[:, 1], support[:, 0])
            bound = np.column_stack([1 - p_second, p_second])
            best = posterior.argmax(axis=1)
            rows = np.arange(best.size)
            capped = np.minimum(posterior[rows, best], bound[rows, best])
            posterior[rows, best] = np.maximum(capped, 0.5)
            posterior[rows, 1 - best] = 1 - posterior[rows, best]
    # Gold images keep their known answer.
    gold_rows = np.flatnonzero(gold_codes >= 0)
    posterior[gold_rows] = 0.0
    posterior[gold_rows, gold_codes[gold_rows]] = 1.0
    codes = rule.decide_many(
        posterior, n_votes, labels=matrix.labels, vote_limit=vote_limit, support=support
    )
    return SynsetDecision(
        estimate=estimate,
        posterior=posterior,
        support=support,
        codes=codes,
        calibration=calibration,
        model=model,
        held_out=held_out,
        ceiling=ceiling,
        mixture=mixture,
    )

