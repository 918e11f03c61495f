"""Offline and online evaluation of the consensus methods on crowd votes with known truth
(the ``item,worker,label`` / ``item,label`` CSV files of shared/data/crowd)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from consensus.engine.dawid_skene import dawid_skene
from consensus.engine.majority import majority_vote
from consensus.engine.model import ModelPriors, fit_model
from consensus.engine.stopping import NEED_MORE, StoppingRule
from consensus.engine.types import Estimate, VoteMatrix

Method = Callable[..., Estimate]


def _majority(matrix: VoteMatrix, *, seed: int = 0, **_: object) -> Estimate:
    return majority_vote(matrix, seed=seed)


def _dawid_skene(matrix: VoteMatrix, **_: object) -> Estimate:
    return dawid_skene(matrix)


def _model(
    matrix: VoteMatrix, *, init_posterior: np.ndarray | None = None, **_: object
) -> Estimate:
    return fit_model(matrix, init_posterior=init_posterior)


def _model_loo(
    matrix: VoteMatrix, *, init_posterior: np.ndarray | None = None, **_: object
) -> Estimate:
    """Our model with the collapsed (leave-one-out) E-step: better calibrated for stopping."""
    return fit_model(matrix, init_posterior=init_posterior, priors=ModelPriors(collapsed=True))


METHODS: dict[str, Method] = {
    "mv": _majority,
    "ds": _dawid_skene,
    "model": _model,
    "model-loo": _model_loo,
}


def load_votes(path: str | Path) -> VoteMatrix:
    """Read ``item,worker,label`` rows (with header); labels stay strings as in the file."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"item", "worker", "label"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    return VoteMatrix.from_columns(
        [row["item"] for row in rows],
        [row["worker"] for row in rows],
        [row["label"] for row in rows],
    )


def load_truth(path: str | Path) -> dict[Hashable, Hashable]:
    with open(path, newline="") as handle:
        return {row["item"]: row["label"] for row in csv.DictReader(handle)}


@dataclass(frozen=True)
class Scores:
    accuracy: float
    per_class: dict[str, dict[str, float]]
    n_items: int

    def as_dict(self) -> dict[str, object]:
        return {"accuracy": self.accuracy, "per_class": self.per_class, "n_items": self.n_items}


def score(matrix: VoteMatrix, predicted: np.ndarray, truth: Mapping[Hashable, Hashable]) -> Scores:
    """Accuracy and per-class precision/recall over the items that have a true label."""
    label_position = {label: index for index, label in enumerate(matrix.labels)}
    rows, true_codes = [], []
    for row, item in enumerate(matrix.items):
        if item in truth:
            rows.append(row)
            # A true label no worker ever gave can never be predicted: it counts as an error.
            true_codes.append(label_position.get(truth[item], -1))
    rows_array = np.array(rows, dtype=np.int64)
    true_array = np.array(true_codes, dtype=np.int64)
    guessed = predicted[rows_array]
    per_class: dict[str, dict[str, float]] = {}
    for code, label in enumerate(matrix.labels):
        hits = float(np.sum((guessed == code) & (true_array == code)))
        n_guessed = float(np.sum(guessed == code))
        support = float(np.sum(true_array == code))
        per_class[str(label)] = {
            "precision": hits / n_guessed if n_guessed else 0.0,
            "recall": hits / support if support else 0.0,
            "support": int(support),
        }
    accuracy = float(np.mean(guessed == true_array)) if rows else 0.0
    return Scores(accuracy=accuracy, per_class=per_class, n_items=len(rows))


def evaluate_offline(
    matrix: VoteMatrix, truth: Mapping[Hashable, Hashable], method: str, *, seed: int = 0
) -> Scores:
    estimate = METHODS[method](matrix, seed=seed)
    return score(matrix, estimate.predicted(), truth)


@dataclass(frozen=True)
class Replay:
    scores: Scores
    mean_votes: float  # votes revealed per item when collection stopped
    vote_fraction: float  # revealed votes / all votes in the archive
    rounds: int
    decided_fraction: float  # items that stopped on confidence, not on the cap


def reveal_order(matrix: VoteMatrix, *, seed: int) -> np.ndarray:
    """Rank of every vote within its item under a seeded random order (0 = shown first)."""
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(matrix.n_votes), matrix.item_index))
    rank = np.empty(matrix.n_votes, dtype=np.int64)
    starts = np.searchsorted(matrix.item_index[order], np.arange(matrix.n_items))
    rank[order] = np.arange(matrix.n_votes) - np.repeat(starts, matrix.votes_per_item())
    return rank


def replay_online(
    matrix: VoteMatrix,
    truth: Mapping[Hashable, Hashable],
    method: str = "model",
    *,
    threshold: float = 0.99,
    max_votes: int = 10,
    seed: int = 0,
) -> Replay:
    """Replay an archive as if it were being collected (Deng et al. 2009 §3.2, dynamic consensus).

    Rounds: every still-open item receives its next vote (in a seeded random order); the method is
    re-fitted on everything revealed so far (warm-started, so worker confusion is re-estimated
    every round, as a live system does between batches of HITs); an item closes when the
    stopping rule fires (largest posterior ≥ ``threshold``), when it has ``max_votes`` votes, or
    when the archive has no more votes for it. Accuracy is that of a final fit on all revealed
    votes — what an export computes once collection is over.
    """
    rule = StoppingRule(accept_threshold=threshold, reject_threshold=threshold, max_votes=max_votes)
    fit = METHODS[method]
    rank = reveal_order(matrix, seed=seed)
    available = matrix.votes_per_item()
    shown = np.zeros(matrix.n_items, dtype=np.int64)
    open_items = available > 0
    decided = np.zeros(matrix.n_items, dtype=bool)
    posterior = None
    rounds = 0
    while open_items.any():
        rounds += 1
        shown[open_items] += 1
        revealed = matrix.subset(rank < shown[matrix.item_index])
        estimate = fit(revealed, seed=seed, init_posterior=posterior)
        posterior = estimate.posterior
        codes = rule.decide_many(posterior, shown, labels=matrix.labels, vote_limit=available)
        decided |= open_items & (codes < NEED_MORE)
        open_items &= codes == NEED_MORE
    revealed = matrix.subset(rank < shown[matrix.item_index])
    final = fit(revealed, seed=seed, init_posterior=posterior)
    return Replay(
        scores=score(matrix, final.predicted(), truth),
        mean_votes=float(revealed.n_votes / max(matrix.n_items, 1)),
        vote_fraction=float(revealed.n_votes / max(matrix.n_votes, 1)),
        rounds=rounds,
        decided_fraction=float(decided.mean()) if matrix.n_items else 0.0,
    )


def consensus_report(
    votes_path: str | Path,
    truth_path: str | Path,
    *,
    method: str = "model",
    replay: bool = False,
    threshold: float = 0.99,
    max_votes: int = 10,
    seed: int = 0,
) -> dict[str, object]:
    """Everything ``manage.py consensus_eval`` prints: the chosen method next to the baselines."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}")
    matrix = load_votes(votes_path)
    truth = load_truth(truth_path)
    report: dict[str, object] = {
        "method": method,
        "n_items": matrix.n_items,
        "n_workers": matrix.n_workers,
        "n_votes": matrix.n_votes,
        "tie_rule": "majority-vote ties split uniformly at random with the seed",
        "seed": seed,
        **evaluate_offline(matrix, truth, method, seed=seed).as_dict(),
        "baselines": {
            name: evaluate_offline(matrix, truth, name, seed=seed).as_dict()
            for name in ("mv", "ds")
            if name != method
        },
    }
    if replay:
        result = replay_online(
            matrix, truth, method, threshold=threshold, max_votes=max_votes, seed=seed
        )
        report["replay"] = {
            "threshold": threshold,
            "max_votes": max_votes,
            "mean_votes_per_item": result.mean_votes,
            "vote_fraction": result.vote_fraction,
            "rounds": result.rounds,
            "decided_fraction": result.decided_fraction,
            **result.scores.as_dict(),
        }
    return report
