"""Classic Dawid–Skene EM (Dawid & Skene 1979), the maximum-likelihood baseline with one
confusion matrix per worker, plus the vectorised E/M kernels that our model reuses."""

from __future__ import annotations

import numpy as np

from consensus.engine.majority import majority_vote
from consensus.engine.types import Estimate, VoteMatrix

# Floor for probabilities inside logs: an unsmoothed ML confusion has exact zeros.
_LOG_FLOOR = 1e-10


def confusion_counts(matrix: VoteMatrix, posterior: np.ndarray) -> np.ndarray:
    """Expected (workers × true × given) counts: each vote adds its item's posterior to the row.

    One ``np.bincount`` per true label keeps this O(votes · labels) without Python loops per vote.
    """
    n_workers, n_labels = matrix.n_workers, matrix.n_labels
    cell = matrix.worker_index * n_labels + matrix.label_index
    counts = np.empty((n_workers, n_labels, n_labels))
    for true_label in range(n_labels):
        weights = posterior[matrix.item_index, true_label]
        counts[:, true_label, :] = np.bincount(
            cell, weights=weights, minlength=n_workers * n_labels
        ).reshape(n_workers, n_labels)
    return counts


def vote_log_likelihood(matrix: VoteMatrix, log_confusion: np.ndarray) -> np.ndarray:
    """(items × true) sum over an item's votes of log P(given label | true label, worker)."""
    n_items, n_labels = matrix.n_items, matrix.n_labels
    per_vote = log_confusion[matrix.worker_index, :, matrix.label_index]  # votes × true
    log_likelihood = np.empty((n_items, n_labels))
    for true_label in range(n_labels):
        log_likelihood[:, true_label] = np.bincount(
            matrix.item_index, weights=per_vote[:, true_label], minlength=n_items
        )
    return log_likelihood


def softmax_rows(log_weights: np.ndarray) -> np.ndarray:
    shifted = log_weights - log_weights.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def dawid_skene(matrix: VoteMatrix, *, max_iter: int = 100, tol: float = 1e-5) -> Estimate:
    """Unsmoothed EM initialised from the majority-vote shares, as crowd-kit's ``DawidSkene``.

    No prior on the confusion matrices: a worker seen on three items can get a perfect matrix,
    which is exactly the over-trust our model's Dirichlet prior removes.
    """
    posterior = majority_vote(matrix, smoothing=0.0).posterior
    class_prior = posterior.mean(axis=0)
    confusion = _normalise(confusion_counts(matrix, posterior))
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 — the count is reported
        log_posterior = np.log(np.maximum(class_prior, _LOG_FLOOR)) + vote_log_likelihood(
            matrix, np.log(np.maximum(confusion, _LOG_FLOOR))
        )
        new_posterior = softmax_rows(log_posterior)
        class_prior = new_posterior.mean(axis=0)
        confusion = _normalise(confusion_counts(matrix, new_posterior))
        change = np.abs(new_posterior - posterior).max(initial=0.0)
        posterior = new_posterior
        if change < tol:
            break
    return Estimate(
        posterior=posterior, class_prior=class_prior, confusion=confusion, iterations=iterations
    )


def _normalise(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=-1, keepdims=True)
    n_labels = counts.shape[-1]
    # A worker who never saw an item of this class: uninformative uniform row.
    return np.where(totals > 0, counts / np.maximum(totals, 1e-300), 1.0 / n_labels)
