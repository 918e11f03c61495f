"""Majority vote, the baseline every crowd pipeline starts from; ties are split at random with a
seed so that results are reproducible and unbiased towards the first label."""

from __future__ import annotations

import numpy as np

from consensus.engine.types import Estimate, VoteMatrix


def majority_vote(matrix: VoteMatrix, *, seed: int = 0, smoothing: float = 1.0) -> Estimate:
    """Posterior = smoothed share of votes per label, (votes for l + s) / (votes + K·s): with the
    default s = 1 (Laplace) a single vote gives 2/3, not certainty, so majority vote is a fair
    baseline in an online replay. ``smoothing=0`` gives the raw shares (Dawid–Skene's start).
    The hard label breaks ties uniformly at random.

    Items without votes get a uniform posterior (and a random label).
    """
    counts = matrix.label_counts().astype(float)
    totals = counts.sum(axis=1, keepdims=True)
    n_labels = matrix.n_labels
    smoothed = (counts + smoothing) / np.maximum(totals + n_labels * smoothing, 1e-300)
    posterior = np.where(totals > 0, smoothed, 1.0 / n_labels)
    rng = np.random.default_rng(seed)
    # Among the tied maxima pick the one with the largest random key: a uniform tie split.
    is_max = counts == counts.max(axis=1, keepdims=True)
    keys = np.where(is_max, rng.random(counts.shape), -1.0)
    hard_labels = np.argmax(keys, axis=1)
    return Estimate(
        posterior=posterior,
        class_prior=posterior.mean(axis=0) if matrix.n_items else np.full(n_labels, 1 / n_labels),
        hard_labels=hard_labels,
    )
