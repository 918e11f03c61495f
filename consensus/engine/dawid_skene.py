"""Classic Dawid–Skene EM (Dawid & Skene 1979), the maximum-likelihood baseline with one
confusion matrix per worker, plus the vectorised E/M kernels that our model reuses."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from consensus.engine.majority import majority_vote
from consensus.engine.types import Estimate, VoteMatrix

# Floor for probabilities inside logs: an unsmoothed ML confusion has exact zeros.
_LOG_FLOOR = 1e-10


def incidence(matrix: VoteMatrix) -> sparse.csr_matrix:
    """(items × worker-answer cells) vote counts, cell = worker · K + given label; built once per
    matrix. Both EM kernels are products with it, O(votes · labels) in compiled code."""
    cached = matrix.__dict__.get("_incidence")
    if cached is None:
        n_cells = matrix.n_workers * matrix.n_labels
        cells = matrix.worker_index * matrix.n_labels + matrix.label_index
        cached = sparse.csr_matrix(
            (np.ones(matrix.n_votes), (matrix.item_index, cells)),
            shape=(matrix.n_items, n_cells),
        )
        object.__setattr__(matrix, "_incidence", cached)  # a cache on a frozen dataclass
    return cached


def confusion_counts(matrix: VoteMatrix, posterior: np.ndarray) -> np.ndarray:
    """Expected (workers × true × given) counts: each vote adds its item's posterior to the row."""
    n_workers, n_labels = matrix.n_workers, matrix.n_labels
    by_cell = incidence(matrix).T @ posterior  # (worker, given) × true
    return np.ascontiguousarray(by_cell.reshape(n_workers, n_labels, n_labels).transpose(0, 2, 1))


def vote_log_likelihood(matrix: VoteMatrix, log_confusion: np.ndarray) -> np.ndarray:
    """(items × true) sum over an item's votes of log P(given label | true label, worker)."""
    n_labels = matrix.n_labels
    by_cell = log_confusion.transpose(0, 2, 1).reshape(-1, n_labels)  # (worker, given) × true
    return np.asarray(incidence(matrix) @ by_cell)


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
