"""SynsetLab's consensus model: Dawid–Skene with Dirichlet priors on every worker's confusion
matrix, gold anchoring, and priors shared across workers and along the WordNet hierarchy.

It goes beyond Deng et al. 2009 §3.2 (one confidence table per synset, all workers alike): votes
are weighted by what each worker has shown, so spammers count for ~nothing, adversaries are
flipped, and a good worker's vote settles an item sooner.

The prior on a worker's confusion matrix is hierarchical (empirical Bayes): its mean is the
*population* confusion — all workers' expected counts pooled, itself smoothed towards "a moderately
good worker" (accuracy 0.7, the paper's hard-synset level, errors spread evenly) — or the worker's
own skill pooled across synsets when the caller has it. Its weight is ``worker_strength``
pseudo-votes per worker, split over the rows by the class proportions, so a worker must answer a
couple of items before their own record dominates, and a new worker is trusted like an average one,
never more. EM plugs in the posterior-mean confusion (counts + pseudo-counts, normalised).

What was tried on the public crowd data sets before settling, without tuning numbers to them:

* mean-field variational Bayes (E[log θ] = ψ(α) − ψ(Σα), as in BCC): equal on binary data, but
  3–5 points worse on the 5-label ``web`` data, where ψ punishes the many sparse cells;
* a fixed symmetric prior (accuracy 0.7, 1–4 pseudo-votes per row) instead of the population
  mean: 1–5 points worse on ``web`` (its errors are mostly between neighbouring grades, which the
  population mean learns and a symmetric prior denies), equal elsewhere;
* Toloka's K = 0.5 smoothing (Jeffreys Beta(0.5, 0.5) on accuracy): centred on a coin-flip worker,
  so every new worker starts as a spammer and online collection stalls at the start;
* strength 0.5–8 pseudo-votes per worker: offline accuracy moves by < 0.5 point on every data
  set; stronger priors spend more votes online for a little more accuracy. 2 was kept as "a
  couple of answers" — a prior choice, not a fitted value;
* learning confusions only from items with ≥ 2 votes (a lone vote says nothing about its
  worker): it let EM swap labels in early online rounds, so it was dropped. Known weakness: in
  the first online round, when most items have one vote, EM started from majority vote rates
  every worker near-perfect; thresholds must be high enough to absorb it. (Measured later on the
  real archives' first replay round, EM in fact drifts to the opposite corner: every worker a
  coin flip, posteriors = class prior — safe, it just decides nothing on one vote.)

Second round (options in :class:`ModelPriors`, defaults unchanged so offline figures stay):

* ``init="prior"``: first E-step from the prior worker (or each worker's cross-synset skill)
  instead of hard majority. Same replay results on the real data, web offline −0.004: kept as an
  option, useful when ``worker_prior`` is given.
* ``collapsed=True`` (CVB0 leave-one-out E-step, also ``evaluation.METHODS["model-loo"]``): a vote
  is judged by its worker's *other* votes, so a worker's agreement cannot vouch for itself. Better
  calibrated for stopping (bluebirds replay 0.907 at 34% of votes; in the simulation with gold and
  pooled skill it reaches 0.997 precision where plain EM stays at 0.992), but offline it loses
  0.005 on temp and 0.05 on the 5-grade web data (LOO on sparse 5×5 cells). Hence a per-use
  choice: plain EM for final labels, collapsed for online stopping on binary projects.
* ``final_loo``: plain EM then one LOO E-step — between the two, no clear gain.
* ``relative_worker_prior`` (default on, affects only callers passing ``worker_prior``): a
  worker's cross-synset confusion *tilts* this synset's population confusion (log-linear shift by
  how the worker differs from the typical worker) instead of replacing it. With absolute priors,
  skill learned on easy synsets over-trusted everyone on hard ones (simulation precision 0.983).
* Not done, the main remaining cause of over-confidence: the prior strength is fixed (2
  pseudo-votes per worker), while an empirical-Bayes estimate of the spread of worker skill would
  set it; a spammer/honest mixture prior is needed for that to be robust.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit

from consensus.engine.dawid_skene import (
    confusion_counts,
    incidence,
    softmax_rows,
    vote_log_likelihood,
)
from consensus.engine.majority import majority_vote
from consensus.engine.stopping import DECISIONS, StoppingRule
from consensus.engine.types import (
    Estimate,
    ItemResult,
    Result,
    Vote,
    VoteMatrix,
    WorkerResult,
    normalised_entropy,
    worker_reliability,
)


@dataclass(frozen=True)
class ModelPriors:
    """Priors of the model; see the module docstring for why these values."""

    worker_accuracy: float = 0.7  # mean accuracy of the population prior's own smoothing
    worker_strength: float = 2.0  # pseudo-votes per worker, split over rows by class proportions
    class_strength: float = 1.0  # pseudo-items per label in the class-proportion prior
    pool_population: bool = True  # False: the prior mean is the fixed symmetric worker
    # "prior": first E-step from the prior worker (a damped first round: one vote moves an item
    # only as far as an average worker deserves); "majority": from vote shares; "best": both, and
    # keep the fit with the higher likelihood.
    init: str = "best"
    collapsed: bool = False  # leave-one-out (CVB0) E-step: a vote is judged by the *other* votes
    final_loo: bool = False  # one leave-one-out E-step after plain EM converged
    # A worker's cross-synset prior shifts *this* synset's population confusion by how the worker
    # differed from the typical worker elsewhere, instead of replacing it: a subtle synset makes
    # everyone err more (Deng et al. 2009 §3.2), a careful worker stays relatively careful.
    relative_worker_prior: bool = True
    # Every worker is honest (own confusion) or a spammer (answers independent of the truth),
    # with the honest share estimated from the data (empirical Bayes).
    spammer_mixture: bool = True
    # Images differ: votes on one image are correlated beyond what the truth explains (a
    # Beta-binomial image effect); its strength ρ is estimated from the excess agreement.
    item_difficulty: bool = True
    # Every worker shares the population confusion (exchangeable workers, as ImageNet's table).
    pooled_workers: bool = False
    # A label given in fewer than this share of the votes is never a candidate truth.
    min_label_share: float = 0.005


DEFAULT_PRIORS = ModelPriors()


@dataclass(frozen=True)
class MixtureStart:
    """Where the last fit of the same synset left the spammer/honest mixture: each worker's
    responsibility of being honest, and the honest share. Resuming from it (with the last
    posterior) lets EM start once, near its fixed point, instead of from several cold starts."""

    honest: Mapping[Hashable, float]
    honest_share: float


# Bounds of the empirical-Bayes honest share: a new worker is never presumed certainly honest,
# and at least half of the crowd is presumed honest (below that, EM on sparse votes can slide to
# the corner where everyone is a spammer and every posterior is the class prior).
HONEST_SHARE_BOUNDS = (0.5, 0.95)
# Once no worker's honest responsibility moves more than this in an iteration, it is kept.
MIXTURE_SETTLED = 1e-2
MAX_ITEM_CORRELATION = 0.5
DENSE_VOTES_PER_ITEM = 5  # from this many votes per image on average, one EM start suffices


def symmetric_confusion_prior(n_labels: int, *, accuracy: float, strength: float) -> np.ndarray:
    """Dirichlet pseudo-counts (true × given) of a worker right with probability ``accuracy``."""
    if n_labels == 1:
        return np.full((1, 1), strength)
    off_diagonal = strength * (1.0 - accuracy) / (n_labels - 1)
    prior = np.full((n_labels, n_labels), off_diagonal)
    np.fill_diagonal(prior, strength * accuracy)
    return prior


def fit_model(
    matrix: VoteMatrix,
    *,
    gold: Mapping[Hashable, Hashable] | None = None,
    priors: ModelPriors = DEFAULT_PRIORS,
    worker_prior: Mapping[Hashable, np.ndarray] | None = None,
    class_prior_counts: np.ndarray | None = None,
    init_posterior: np.ndarray | None = None,
    resume: MixtureStart | None = None,
    max_iter: int = 200,
    tol: float = 1e-4,
) -> Estimate:
    """Dawid–Skene EM with hierarchical Dirichlet priors on an encoded vote matrix.

    ``gold`` maps known-answer items to their label: their posterior is clamped to it, so they
    anchor every worker who answered them. ``worker_prior`` maps a worker to (true × given)
    Dirichlet pseudo-counts replacing the symmetric prior, e.g. the worker's skill pooled across
    synsets (:func:`worker_prior_from_estimate`). ``class_prior_counts`` are Dirichlet
    pseudo-counts on the class proportions, e.g. the parent synset's class balance.
    ``init_posterior`` warm-starts EM (online rounds re-fit after each new batch of votes).
    ``resume`` (with ``init_posterior``) continues the last fit of the same synset: one start,
    from that posterior and the last mixture responsibilities; the caller decides when a few new
    votes make that safe and when a cold fit with several starts is due.

    EM stops when the (tempered) log-likelihood gains less than ``tol`` × 10⁻³ nats per vote and
    the posteriors move less than ``tol``, never after a single iteration.
    """
    if max_iter < 1:
        raise ValueError("max_iter must be at least 1")
    if resume is not None and init_posterior is None:
        raise ValueError("resume needs the last fit's posterior (init_posterior)")
    if priors.init != "best" or resume is not None:
        return _fit_once(
            matrix, gold=gold, priors=priors, worker_prior=worker_prior,
            class_prior_counts=class_prior_counts, init_posterior=init_posterior,
            init=priors.init, max_iter=max_iter, tol=tol, resume=resume,
        )  # fmt: skip
    # Several starts, all anchored on what the votes say (so none can swap the labels): the
    # damped prior start, and the previous round's posterior when warm-starting (else vote
    # shares). Keep the fit that explains the votes better: a warm start alone can stay in the
    # optimum of a round when most images had one vote.
    starts: list[tuple[str, np.ndarray | None]] = [("prior", None)]
    voted = int((matrix.votes_per_item() > 0).sum())
    if init_posterior is not None:
        starts.append(("warm", init_posterior))
    elif matrix.n_votes < DENSE_VOTES_PER_ITEM * voted:
        # Sparse votes are where EM has several optima; with many votes per image the starts
        # agree and the second one would only double the time.
        starts.append(("majority", None))
    fits = [
        _fit_once(
            matrix, gold=gold, priors=priors, worker_prior=worker_prior,
            class_prior_counts=class_prior_counts, init_posterior=start, init=init,
            max_iter=max_iter, tol=tol,
        )  # fmt: skip
        for init, start in starts
    ]
    return max(fits, key=lambda fit: fit.log_likelihood)


def _fit_once(
    matrix: VoteMatrix,
    *,
    gold: Mapping[Hashable, Hashable] | None,
    priors: ModelPriors,
    worker_prior: Mapping[Hashable, np.ndarray] | None,
    class_prior_counts: np.ndarray | None,
    init_posterior: np.ndarray | None,
    init: str,
    max_iter: int,
    tol: float,
    resume: MixtureStart | None = None,
) -> Estimate:
    n_labels = matrix.n_labels
    symmetric_rows = symmetric_confusion_prior(
        n_labels, accuracy=priors.worker_accuracy, strength=1.0
    )
    own_prior = np.zeros((matrix.n_workers, n_labels, n_labels))
    has_own_prior = np.zeros(matrix.n_workers, dtype=bool)
    for position, worker in enumerate(matrix.workers):
        if worker_prior is not None and worker in worker_prior:
            own_prior[position] = worker_prior[worker]
            has_own_prior[position] = True
    beta_prior = (
        np.full(n_labels, priors.class_strength)
        if class_prior_counts is None
        else np.asarray(class_prior_counts, dtype=float)
    )

    own_tilt = _skill_tilt(own_prior, has_own_prior, matrix) if has_own_prior.any() else None
    gold_rows, gold_labels = _gold_codes(matrix, gold)
    if init_posterior is not None:
        posterior = init_posterior.copy()
    elif init == "majority":
        posterior = majority_vote(matrix, smoothing=0.0).posterior
    else:
        posterior = _prior_posterior(
            matrix, symmetric_rows, own_prior, has_own_prior, beta_prior, gold_rows, gold_labels
        )
    n_votes = matrix.votes_per_item()
    honest = np.full(matrix.n_workers, 0.9)  # responsibilities of the honest component
    spam_rows = None
    # Labels almost nobody gives (a stray "yes" among 0/1) stay possible answers but are not
    # candidate truths: otherwise EM can build a class around five votes and swap the others.
    label_share = np.bincount(matrix.label_index, minlength=n_labels) / max(matrix.n_votes, 1)
    possible = label_share >= priors.min_label_share
    possible[gold_labels] = True
    if possible.sum() < 2:
        possible[:] = True
    impossible = np.where(possible, 0.0, -np.inf)
    posterior = posterior * possible
    posterior /= np.maximum(posterior.sum(axis=1, keepdims=True), 1e-300)
    posterior[posterior.sum(axis=1) == 0] = possible / possible.sum()
    _clamp(posterior, gold_rows, gold_labels)
    honest_share = 0.9
    correlation = 0.0
    log_likelihood = -np.inf
    iterations = 0
    alpha = beta = confusion = None
    walk: _AnswerOrder | None = None
    settled: np.ndarray | None = None  # the mixture's responsibilities once they stop moving
    previous_mixture: np.ndarray | None = None
    verify_resumed = False
    if resume is not None and priors.spammer_mixture and not priors.pooled_workers:
        # EM runs with the last fit's responsibilities kept (a worker new since then at the
        # share); once it has converged, the evidence is computed once: if no responsibility
        # moved by MIXTURE_SETTLED, the fit is done, otherwise the mixture is fitted on from
        # there as in a cold fit.
        honest_share = resume.honest_share
        honest = settled = np.array(
            [resume.honest.get(worker, honest_share) for worker in matrix.workers], dtype=float
        )
        verify_resumed = True
    for iterations in range(1, max_iter + 1):  # noqa: B007 — the count is reported
        previous_confusion = confusion
        counts = confusion_counts(matrix, posterior)
        beta = beta_prior + posterior.sum(axis=0)
        class_share = beta / beta.sum()
        # Pseudo-votes per row follow the class balance: a rare class's row gets few.
        row_strength = priors.worker_strength * class_share[:, None]
        population_rows = symmetric_rows * row_strength
        if priors.pool_population:
            # Spammers' answers say nothing about how an honest worker errs.
            weights = honest if priors.spammer_mixture else np.ones(matrix.n_workers)
            population_rows = population_rows + np.einsum("w,wkl->kl", weights, counts)
        population_mean = population_rows / population_rows.sum(axis=-1, keepdims=True)
        if priors.relative_worker_prior and has_own_prior.any():
            own_rows = _relative_prior(own_prior, has_own_prior, own_tilt, population_mean)
        else:
            own_rows = own_prior
        prior_rows = np.where(
            has_own_prior[:, None, None], own_rows, row_strength * population_mean
        )
        alpha = prior_rows + counts
        if priors.pooled_workers:
            confusion = np.broadcast_to(population_mean, alpha.shape).copy()
        else:
            confusion = alpha / alpha.sum(axis=-1, keepdims=True)
            if priors.spammer_mixture:
                if walk is None:
                    walk = _answer_order(matrix, priors.worker_strength)
                if settled is None:
                    mixture_honest, honest_share = _spammer_mixture(
                        walk, posterior, previous_confusion, prior_rows, honest_share,
                        priors.worker_strength,
                    )  # fmt: skip
                    if (
                        previous_mixture is not None
                        and np.abs(mixture_honest - previous_mixture).max(initial=0.0)
                        < MIXTURE_SETTLED
                    ):
                        # The responsibilities have settled: later iterations keep them (the
                        # evidence walks every vote, the most expensive step of an iteration).
                        settled = mixture_honest
                    honest = previous_mixture = mixture_honest
                else:
                    honest = settled
                spam_rows = walk.spam_rows
                mixed = _mixed_confusion(honest, confusion, spam_rows)
                # A worker with a cross-synset prior already brings their record (spammer or
                # not) from the other synsets: the mixture applies to the others.
                honest = np.where(has_own_prior, 1.0, honest)
                confusion = np.where(has_own_prior[:, None, None], confusion, mixed)
        if priors.collapsed:
            log_weights = _collapsed_log_weights(matrix, posterior, alpha, beta)
        else:
            log_weights = np.log(class_share) + vote_log_likelihood(matrix, np.log(confusion))
        new_posterior, new_log_likelihood = _normalise_log(log_weights + impossible)
        _clamp(new_posterior, gold_rows, gold_labels)
        change = np.abs(new_posterior - posterior).max(initial=0.0)
        gain = abs(new_log_likelihood - log_likelihood)
        posterior, log_likelihood = new_posterior, new_log_likelihood
        if iterations >= 2 and change < tol and gain < tol * 1e-3 * max(matrix.n_votes, 1):
            if verify_resumed and walk is not None and settled is not None:
                verify_resumed = False
                check, check_share = _spammer_mixture(
                    walk, posterior, confusion, prior_rows, honest_share, priors.worker_strength
                )
                if np.abs(check - settled).max(initial=0.0) >= MIXTURE_SETTLED:
                    settled, honest_share = None, check_share
                    honest = previous_mixture = check
                    continue
            break
    assert alpha is not None and beta is not None and confusion is not None
    if priors.final_loo and not priors.collapsed:
        posterior = softmax_rows(_collapsed_log_weights(matrix, posterior, alpha, beta))
        _clamp(posterior, gold_rows, gold_labels)
    if priors.item_difficulty:
        # The image effect is estimated once EM has settled (inside the loop it feeds back on
        # the spammer share), and it only tempers how sure the posterior is: n correlated votes
        # weigh as n / (1 + (n − 1)ρ) independent ones.
        correlation = item_correlation(matrix, posterior, confusion)
        if correlation > 0:
            class_share = beta / beta.sum()
            per_item = vote_log_likelihood(matrix, np.log(confusion))
            weight = evidence_weight(n_votes, correlation)[:, None]
            tempered = softmax_rows(np.log(class_share) + weight * per_item + impossible)
            # Tempering never flips an image's label, it only makes the posterior less sure.
            same = tempered.argmax(axis=1) == posterior.argmax(axis=1)
            posterior = np.where(same[:, None], tempered, posterior)
            _clamp(posterior, gold_rows, gold_labels)
    return Estimate(
        posterior=posterior,
        class_prior=beta / beta.sum(),
        confusion=confusion,
        iterations=iterations,
        log_likelihood=log_likelihood,
        item_correlation=correlation,
        honest_share=honest_share if priors.spammer_mixture and not priors.pooled_workers else 1.0,
        honest=honest if priors.spammer_mixture and not priors.pooled_workers else None,
        alpha=None if priors.pooled_workers else alpha,
        spam_rows=spam_rows,
    )


def _normalise_log(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Row-normalised posterior and the summed log normaliser (the data log-likelihood)."""
    top = log_weights.max(axis=1, keepdims=True)
    weights = np.exp(log_weights - top)
    totals = weights.sum(axis=1, keepdims=True)
    return weights / totals, float((np.log(totals) + top).sum())


@dataclass(frozen=True)
class _AnswerOrder:
    """Each worker's votes in one fixed order (grouped by the answer given), fixed for a fit:
    the prequential evidence of the spammer/honest mixture walks it. What the spammer model
    needs depends on the answers alone, so it is computed here once."""

    workers: np.ndarray  # per sorted vote (sorted by worker, answer, position)
    items: np.ndarray
    cell: np.ndarray  # worker × n_labels + answer: the vote's column in a (worker, answer) table
    worker_runs: tuple[np.ndarray, np.ndarray]  # (first vote, length) of each worker's run
    answer_runs: tuple[np.ndarray, np.ndarray]  # (first vote, length) of each (worker, answer)
    log_spam_vote: np.ndarray  # log prequential probability of each answer, spammer model
    spam_rows: np.ndarray  # workers × given: each worker's answer distribution (smoothed)


def _answer_order(matrix: VoteMatrix, strength: float) -> _AnswerOrder:
    workers, given = matrix.worker_index, matrix.label_index
    order = np.lexsort((np.arange(workers.size), given, workers))
    workers, given = workers[order], given[order]
    cell = workers * matrix.n_labels + given
    worker_runs, answer_runs = _runs(workers), _runs(cell)
    # The spammer's answers do not depend on the truth: a Dirichlet on each worker's answer
    # distribution, centred on the crowd's, worth ``strength`` answers.
    population = np.bincount(given, minlength=matrix.n_labels).astype(float) + 1.0
    spam_alpha = strength * population / population.sum()
    answers = np.bincount(cell, minlength=matrix.n_workers * matrix.n_labels).reshape(
        matrix.n_workers, matrix.n_labels
    )
    spam_rows = (answers + spam_alpha) / (answers.sum(axis=1, keepdims=True) + spam_alpha.sum())
    position = np.arange(workers.size)
    earlier_same = position - np.repeat(*answer_runs)
    earlier = position - np.repeat(*worker_runs)
    spam_vote = (spam_alpha[given] + earlier_same) / (spam_alpha.sum() + earlier)
    return _AnswerOrder(
        workers=workers, items=matrix.item_index[order], cell=cell, worker_runs=worker_runs,
        answer_runs=answer_runs, log_spam_vote=np.log(spam_vote), spam_rows=spam_rows,
    )  # fmt: skip


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted keys: where each run of equal keys starts, and its length."""
    starts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1]
    return starts, np.diff(np.r_[starts, keys.size])


def _exclusive_run_cumsum(values: np.ndarray, runs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """For (labels × votes) rows whose votes are sorted into runs: per vote, the sum of the
    *earlier* votes of its run."""
    starts, lengths = runs
    total = np.cumsum(values, axis=1)
    before_run = np.zeros((values.shape[0], starts.size))
    before_run[:, 1:] = total[:, starts[1:] - 1]
    return total - values - np.repeat(before_run, lengths, axis=1)


def _spammer_mixture(
    walk: _AnswerOrder,
    posterior: np.ndarray,
    previous_confusion: np.ndarray | None,
    prior_rows: np.ndarray,
    honest_share: float,
    strength: float,
) -> tuple[np.ndarray, float]:
    """Responsibilities of "honest" vs "spammer" for every worker, and the new honest share.

    Honest: the worker's own confusion under the Dirichlet prior. Spammer: every row is the same
    answer distribution (what they say does not depend on the truth). The evidence for either is
    its prequential (marginal) likelihood of the worker's answers: each answer predicted from
    the worker's earlier answers under that model, and — for the honest model — from what the
    image's *other* votes say its truth is (the posterior with this vote's own factor divided
    out; gold images by their truth). Predicting before learning carries Occam's razor: a random
    or always-yes worker fails the honest model's early predictions and is called a spammer,
    while a long-tail worker whose images have two votes each, about which the others say
    little, stays at the population's honest share. (The Dirichlet-multinomial evidence of
    *expected* counts, used before, read the smeared counts of uncertain images as random
    answering: honest workers with a handful of votes, all right, came out as spammers and the
    honest share slid to its floor.) The share is the mean responsibility (the empirical-Bayes
    fixed point of the mixture weight).
    """
    # Each honest row as strong as the spammer's one row (rows split by class share would be so
    # diffuse that Occam's razor alone made every worker seen a few times a spammer).
    honest_prior = strength * prior_rows / prior_rows.sum(axis=-1, keepdims=True)

    # Labels × votes throughout: each row a contiguous walk over the sorted votes.
    truth = np.ascontiguousarray(posterior.T)[:, walk.items]  # what a vote counts for once past
    others = truth
    if previous_confusion is not None:
        own = previous_confusion.transpose(1, 0, 2).reshape(posterior.shape[1], -1)[:, walk.cell]
        others = truth / np.maximum(own, 1e-300)
        others /= np.maximum(others.sum(axis=0, keepdims=True), 1e-300)
    same_answer = _exclusive_run_cumsum(truth, walk.answer_runs)
    any_answer = _exclusive_run_cumsum(truth, walk.worker_runs)
    prior = honest_prior.transpose(1, 0, 2).reshape(posterior.shape[1], -1)[:, walk.cell]
    honest_vote = (others * (prior + same_answer) / (strength + any_answer)).sum(axis=0)
    log_ratio = np.log(np.maximum(honest_vote, 1e-300)) - walk.log_spam_vote
    evidence = np.bincount(walk.workers, weights=log_ratio, minlength=walk.spam_rows.shape[0])
    low, high = HONEST_SHARE_BOUNDS
    share = float(np.clip(honest_share, low, high))
    honest = expit(np.log(share / (1 - share)) + evidence)
    new_share = float(np.clip(honest.mean(), low, high)) if honest.size else share
    return honest, new_share


def _mixed_confusion(
    honest: np.ndarray, honest_confusion: np.ndarray, spam_rows: np.ndarray
) -> np.ndarray:
    """What the E-step uses: each worker's honest confusion and spammer rows, weighted by the
    responsibility of "honest"."""
    weight = honest[:, None, None]
    return weight * honest_confusion + (1 - weight) * spam_rows[:, None, :]


def item_correlation(matrix: VoteMatrix, posterior: np.ndarray, confusion: np.ndarray) -> float:
    """ρ of a Beta-binomial image effect, by moments: how much more often two votes on the same
    image agree than independent votes given the truth would (Σ observed − Σ expected agreeing
    pairs over Σ pairs − Σ expected). 0 when the worker model explains the agreement; clipped to
    [0, ``MAX_ITEM_CORRELATION``]."""
    n_labels = matrix.n_labels
    n_votes = matrix.votes_per_item().astype(float)
    pairs = n_votes * (n_votes - 1) / 2
    if pairs.sum() == 0:
        return 0.0
    label_counts = matrix.label_counts().astype(float)
    observed = ((label_counts**2 - label_counts) / 2).sum()
    expected = 0.0
    # (items × workers) who voted where: the answer rows depend on the worker only.
    by_cell = incidence(matrix)
    who = by_cell @ sparse.kron(sparse.eye(matrix.n_workers), np.ones((n_labels, 1))).tocsr()
    for true_label in range(n_labels):
        rows = confusion[:, true_label, :]  # workers × given
        sums = np.asarray(who @ rows)
        squares = np.asarray(who @ rows**2)
        agree = ((sums**2 - squares) / 2).sum(axis=1)
        expected += float((posterior[:, true_label] * agree).sum())
    denominator = pairs.sum() - expected
    if denominator <= 0:
        return 0.0
    return float(np.clip((observed - expected) / denominator, 0.0, MAX_ITEM_CORRELATION))


def evidence_weight(n_votes: np.ndarray, correlation: float) -> np.ndarray:
    """Weight of an image's summed vote log-likelihoods: n votes with intra-image correlation ρ
    carry the evidence of n / (1 + (n − 1)ρ) independent ones (the design effect)."""
    n = np.maximum(np.asarray(n_votes, dtype=float), 1.0)
    return 1.0 / (1.0 + (n - 1.0) * correlation)


def _skill_tilt(own_prior: np.ndarray, has_own_prior: np.ndarray, matrix: VoteMatrix) -> np.ndarray:
    """log confusion of each worker with a prior minus that of the typical one (vote-weighted
    mean of those priors over the workers who answered in this matrix)."""
    strength = own_prior.sum(axis=-1, keepdims=True)
    mean = np.where(strength > 0, own_prior / np.maximum(strength, 1e-300), 1.0)
    votes = np.bincount(matrix.worker_index, minlength=matrix.n_workers).astype(float)
    weights = np.where(has_own_prior, votes, 0.0)
    if weights.sum() == 0:
        weights = has_own_prior.astype(float)
    typical = np.einsum("w,wkl->kl", weights, mean) / weights.sum()
    return np.log(np.maximum(mean, 1e-6)) - np.log(np.maximum(typical, 1e-6))[None]


def _relative_prior(
    own_prior: np.ndarray,
    has_own_prior: np.ndarray,
    tilt: np.ndarray | None,
    population_mean: np.ndarray,
) -> np.ndarray:
    """Pseudo-counts: this synset's population rows tilted by each worker's relative skill,
    with the strength the caller gave the worker's own prior."""
    assert tilt is not None
    log_mean = np.log(np.maximum(population_mean, 1e-300))[None] + tilt
    mean = softmax_rows(log_mean.reshape(-1, log_mean.shape[-1])).reshape(log_mean.shape)
    return np.where(has_own_prior[:, None, None], mean * own_prior.sum(axis=-1, keepdims=True), 0.0)


def _prior_posterior(
    matrix: VoteMatrix,
    symmetric_rows: np.ndarray,
    own_prior: np.ndarray,
    has_own_prior: np.ndarray,
    beta_prior: np.ndarray,
    gold_rows: np.ndarray,
    gold_labels: np.ndarray,
) -> np.ndarray:
    """First E-step from the prior alone: every worker is the prior's worker (or their own
    cross-synset skill), so one vote moves an item only as far as that worker deserves. The
    items' posteriors then feed the first M-step, and gold answers anchor it from the start."""
    log_prior_confusion = np.broadcast_to(
        np.log(symmetric_rows), (matrix.n_workers, *symmetric_rows.shape)
    ).copy()
    if has_own_prior.any():
        own = own_prior[has_own_prior]
        log_prior_confusion[has_own_prior] = np.log(own / own.sum(axis=-1, keepdims=True))
    class_share = beta_prior / beta_prior.sum()
    posterior = softmax_rows(np.log(class_share) + vote_log_likelihood(matrix, log_prior_confusion))
    _clamp(posterior, gold_rows, gold_labels)
    return posterior


def _collapsed_log_weights(
    matrix: VoteMatrix, posterior: np.ndarray, alpha: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """(items × true) log P(true) + Σ log P(vote | true) with each vote's own expected count
    removed from its worker's confusion (and the item's from the class counts): the zero-order
    collapsed variational update (CVB0, Asuncion et al. 2009) of this Dirichlet model.

    Plugging in a confusion that already contains the vote being explained lets a worker's
    answers vouch for themselves: a worker seen on a handful of items looks as reliable as the
    agreement they created. Leaving the vote out removes that self-confirmation, which is what
    makes a new worker's first answers count for what the prior and the *other* evidence say.
    """
    weights = posterior[matrix.item_index]  # votes × true: this vote's share in each row
    own_cell = alpha[matrix.worker_index, :, matrix.label_index] - weights
    row_total = alpha.sum(axis=-1)[matrix.worker_index] - weights
    per_vote = np.log(np.maximum(own_cell, 1e-12)) - np.log(np.maximum(row_total, 1e-12))
    n_items, n_labels = matrix.n_items, matrix.n_labels
    log_weights = np.empty((n_items, n_labels))
    for true_label in range(n_labels):
        log_weights[:, true_label] = np.bincount(
            matrix.item_index, weights=per_vote[:, true_label], minlength=n_items
        )
    class_counts = np.maximum(beta[None, :] - posterior, 1e-12)
    log_weights += np.log(class_counts / class_counts.sum(axis=1, keepdims=True))
    return log_weights


def _gold_codes(
    matrix: VoteMatrix, gold: Mapping[Hashable, Hashable] | None
) -> tuple[np.ndarray, np.ndarray]:
    if not gold:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    item_position = {item: index for index, item in enumerate(matrix.items)}
    label_position = {label: index for index, label in enumerate(matrix.labels)}
    pairs = [
        (item_position[item], label_position[label])
        for item, label in gold.items()
        if item in item_position
    ]
    rows = np.array([row for row, _ in pairs], dtype=np.int64)
    labels = np.array([label for _, label in pairs], dtype=np.int64)
    return rows, labels


def _clamp(posterior: np.ndarray, rows: np.ndarray, labels: np.ndarray) -> None:
    if rows.size:
        posterior[rows] = 0.0
        posterior[rows, labels] = 1.0


def worker_prior_from_estimate(
    matrix: VoteMatrix, estimate: Estimate, *, strength: float = 4.0
) -> dict[Hashable, np.ndarray]:
    """Dirichlet pseudo-counts for each worker from a (global) fit: their pooled skill, worth
    ``strength`` pseudo-votes per row of a per-synset confusion matrix."""
    assert estimate.confusion is not None
    return {
        worker: strength * estimate.confusion[position]
        for position, worker in enumerate(matrix.workers)
    }


def result_from_estimate(
    matrix: VoteMatrix, estimate: Estimate, *, rule: StoppingRule | None = None
) -> Result:
    """Per-item posteriors and decisions, per-worker confusion and the synset's difficulty."""
    rule = rule or StoppingRule()
    n_votes = matrix.votes_per_item()
    codes = rule.decide_many(estimate.posterior, n_votes, labels=matrix.labels)
    labels = matrix.labels
    items = {
        item: ItemResult(
            posterior=dict(zip(labels, estimate.posterior[row].tolist(), strict=True)),
            decision=DECISIONS[codes[row]],
            n_votes=int(n_votes[row]),
        )
        for row, item in enumerate(matrix.items)
    }
    workers: dict[Hashable, WorkerResult] = {}
    mean_worker_accuracy = None
    if estimate.confusion is not None:
        reliability = worker_reliability(estimate.confusion)
        votes_by_worker = np.bincount(matrix.worker_index, minlength=matrix.n_workers)
        for position, worker in enumerate(matrix.workers):
            workers[worker] = WorkerResult(
                confusion={
                    true: dict(zip(labels, estimate.confusion[position, t].tolist(), strict=True))
                    for t, true in enumerate(labels)
                },
                reliability=float(reliability[position]),
                n_votes=int(votes_by_worker[position]),
            )
        # Accuracy under the synset's own class balance, weighted by who did the work: a second
        # reading of the synset's difficulty next to the posterior entropy.
        accuracy = np.einsum("k,wkk->w", estimate.class_prior, estimate.confusion)
        if votes_by_worker.sum():
            mean_worker_accuracy = float(np.average(accuracy, weights=votes_by_worker))
    voted = n_votes > 0
    difficulty = float(normalised_entropy(estimate.posterior[voted]).mean()) if voted.any() else 1.0
    return Result(
        labels=labels,
        items=items,
        workers=workers,
        class_prior=dict(zip(labels, estimate.class_prior.tolist(), strict=True)),
        difficulty=difficulty,
        mean_worker_accuracy=mean_worker_accuracy,
        iterations=estimate.iterations,
    )


def aggregate(
    votes: Iterable[Vote],
    *,
    labels: Sequence[Hashable] | None = None,
    gold: Mapping[Hashable, Hashable] | None = None,
    rule: StoppingRule | None = None,
    priors: ModelPriors = DEFAULT_PRIORS,
    worker_prior: Mapping[Hashable, np.ndarray] | None = None,
    class_prior: Mapping[Hashable, float] | None = None,
    class_prior_strength: float = 10.0,
) -> Result:
    """Run the model on one synset's votes and decide every item with ``rule``.

    ``class_prior`` (label → share, e.g. the parent synset's accepted fraction) becomes
    ``class_prior_strength`` pseudo-items spread over the labels.
    """
    matrix = VoteMatrix.from_votes(votes, label_set=labels, item_set=list(gold or ()))
    counts = None
    if class_prior is not None:
        counts = np.array([class_prior.get(label, 0.0) for label in matrix.labels], dtype=float)
        counts = class_prior_strength * counts / counts.sum() + 1e-3  # keep Dirichlet proper
    estimate = fit_model(
        matrix, gold=gold, priors=priors, worker_prior=worker_prior, class_prior_counts=counts
    )
    return result_from_estimate(matrix, estimate, rule=rule)


def aggregate_hierarchy(
    votes_by_synset: Mapping[Hashable, Sequence[Vote]],
    *,
    labels: Sequence[Hashable],
    gold_by_synset: Mapping[Hashable, Mapping[Hashable, Hashable]] | None = None,
    parent_class_prior: Mapping[Hashable, Mapping[Hashable, float]] | None = None,
    pooling_strength: float = 4.0,
    rule: StoppingRule | None = None,
    priors: ModelPriors = DEFAULT_PRIORS,
) -> dict[Hashable, Result]:
    """Fit every synset with worker skill pooled across synsets.

    A first fit on all synsets together (items keyed by (synset, item)) estimates each worker's
    global confusion; it then becomes that worker's Dirichlet prior, worth ``pooling_strength``
    pseudo-votes per row, in each per-synset fit — a worker who is careful elsewhere is trusted a
    little on a new synset, while the synset's own evidence can still overrule it (subtle synsets
    deep in the tree make good workers err, Deng et al. 2009 §3.2).
    """
    gold_by_synset = gold_by_synset or {}
    pooled_votes = [
        Vote((synset, vote.item), vote.worker, vote.label)
        for synset, votes in votes_by_synset.items()
        for vote in votes
    ]
    pooled_gold = {
        (synset, item): label
        for synset, gold in gold_by_synset.items()
        for item, label in gold.items()
    }
    pooled = VoteMatrix.from_votes(pooled_votes, label_set=labels, item_set=list(pooled_gold))
    global_estimate = fit_model(pooled, gold=pooled_gold, priors=priors)
    worker_prior = worker_prior_from_estimate(pooled, global_estimate, strength=pooling_strength)
    return {
        synset: aggregate(
            votes,
            labels=labels,
            gold=gold_by_synset.get(synset),
            rule=rule,
            priors=priors,
            worker_prior=worker_prior,
            class_prior=(parent_class_prior or {}).get(synset),
        )
        for synset, votes in votes_by_synset.items()
    }
