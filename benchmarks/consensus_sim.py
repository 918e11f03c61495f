"""Simulated ImageNet-like synsets collected online (Deng et al. 2009 §3.2): precision of accepted
images, recall, and votes per decided image / per candidate for fixed majorities of 3/5/10 votes,
ImageNet's confidence table, and our model. Target: ≥ 99.7% precision of accepted images with
fewer votes per decided image than a fixed 5-vote majority.

The crowd: one pool of workers labels every synset, as on a real project. Each worker has a lasting
skill offset (some are careful, some sloppy) and 10% are spammers (half answer at random, half
always "yes") on every synset. Synsets: 10–30% good candidates; a third easy (workers ~95% right),
a third medium (~85%), a third hard (~70%); a worker's sensitivity and specificity on a synset are
the synset's level plus their offset plus noise.

Collection, the same for both dynamic methods: a random seed set of ``SEED_IMAGES`` candidates gets
``SEED_VOTES`` = 10 votes each (the paper's "at least 10"); then rounds, in which every open
candidate gets one more vote, until the stopping rule settles it or the cap is reached. Workers
answer in HITs of 24 images, 2 of them gold (known answer) — modelled as a gold answer after each
candidate vote with probability 2/22. Every method sees the same answers: the k-th vote on an
image is the same worker and answer for majority-k, the table and the model.

Thresholds (the same for the table and the model): accept when P(good) ≥ τ = 0.997, ImageNet's
precision; reject when P(good) ≤ 1 − τ′ with τ′ from costs (stopping.reject_threshold_for_costs):
a wrongly rejected good image costs the votes of finding another (votes per candidate / good
share, ~15 votes here), against ~2 more votes to settle an uncertain image. Images neither accepted
nor rejected at the cap are *undecided*: never exported, so they do not count in precision, but
their votes count in "votes/candidate". "votes/decided" divides *all* votes (seed, undecided, and
for the model the gold answers too) by the number of decided images.

The model is run three ways: alone per synset ("model"), with gold answers ("model+gold"), and with
gold and each worker's skill pooled across the synsets done before ("model+gold+pool", what a live
project has).

Run: .venv/bin/python benchmarks/consensus_sim.py [--synsets N] [--candidates N] [--seed S]
     [--accept TAU] [--collapsed]   (--collapsed: the model's leave-one-out E-step, see model.py)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consensus.engine.confidence_table import build_confidence_table  # noqa: E402
from consensus.engine.model import (  # noqa: E402
    DEFAULT_PRIORS,
    ModelPriors,
    fit_model,
    worker_prior_from_estimate,
)
from consensus.engine.stopping import (  # noqa: E402
    ACCEPT,
    NEED_MORE,
    REJECT,
    StoppingRule,
    reject_threshold_for_costs,
)
from consensus.engine.types import Estimate, VoteMatrix  # noqa: E402

ACCEPT_THRESHOLD = 0.997  # ImageNet's reported precision, used as the posterior target
MAX_VOTES = 10
SEED_VOTES = 10  # Deng et al. 2009 §3.2: at least 10 votes on each seed image
SEED_IMAGES = 100  # the paper's "initial subset"; it gives no size
N_WORKERS = 300
SPAMMER_SHARE = 0.10
HIT_SIZE, GOLD_PER_HIT = 24, 2
N_GOLD_IMAGES = 60  # per synset, answered again and again by different workers
MODEL_PRIORS = DEFAULT_PRIORS
POOLING_STRENGTH = 4.0  # pseudo-votes per row of a worker's cross-synset skill (model default)


@dataclass
class Crowd:
    offset: np.ndarray  # lasting skill offset of each worker
    random_spammer: np.ndarray  # bool
    yes_spammer: np.ndarray  # bool


def make_crowd(rng: np.random.Generator) -> Crowd:
    spammers = rng.permutation(N_WORKERS)[: int(N_WORKERS * SPAMMER_SHARE)]
    random_spammers, yes_spammers = np.array_split(spammers, 2)
    random_mask = np.zeros(N_WORKERS, dtype=bool)
    yes_mask = np.zeros(N_WORKERS, dtype=bool)
    random_mask[random_spammers] = True
    yes_mask[yes_spammers] = True
    return Crowd(rng.normal(0.0, 0.04, N_WORKERS), random_mask, yes_mask)


@dataclass
class Synset:
    good: np.ndarray  # (candidates,) bool
    answers: np.ndarray  # (candidates, MAX_VOTES) bool: the k-th vote on each image
    workers: np.ndarray  # (candidates, MAX_VOTES) int: who gave it (distinct per image)
    seed: np.ndarray  # (candidates,) bool
    gold_good: np.ndarray  # (gold images,) bool
    gold_image: np.ndarray  # (candidates, MAX_VOTES) which gold image follows that vote, -1: none
    gold_answer: np.ndarray  # (candidates, MAX_VOTES) bool: the worker's answer on it
    level: float


def make_synset(rng: np.random.Generator, crowd: Crowd, n_candidates: int, level: float) -> Synset:
    share = rng.uniform(0.1, 0.3)
    good = rng.random(n_candidates) < share
    sensitivity = np.clip(level + crowd.offset + rng.normal(0, 0.03, N_WORKERS), 0.55, 0.995)
    specificity = np.clip(level + crowd.offset + rng.normal(0, 0.03, N_WORKERS), 0.55, 0.995)
    sensitivity[crowd.random_spammer] = specificity[crowd.random_spammer] = 0.5
    sensitivity[crowd.yes_spammer], specificity[crowd.yes_spammer] = 1.0, 0.0
    workers = np.argsort(rng.random((n_candidates, N_WORKERS)), axis=1)[:, :MAX_VOTES]
    p_yes = np.where(good[:, None], sensitivity[workers], 1.0 - specificity[workers])
    answers = rng.random(workers.shape) < p_yes
    seed = np.zeros(n_candidates, dtype=bool)
    seed[rng.choice(n_candidates, SEED_IMAGES, replace=False)] = True
    gold_good = rng.random(N_GOLD_IMAGES) < share
    has_gold = rng.random(workers.shape) < GOLD_PER_HIT / (HIT_SIZE - GOLD_PER_HIT)
    gold_image = np.where(has_gold, rng.integers(0, N_GOLD_IMAGES, workers.shape), -1)
    gold_p_yes = np.where(
        gold_good[np.maximum(gold_image, 0)], sensitivity[workers], 1 - specificity[workers]
    )
    gold_answer = rng.random(workers.shape) < gold_p_yes
    return Synset(good, answers, workers, seed, gold_good, gold_image, gold_answer, level)


@dataclass
class Outcome:
    accepted: int = 0
    true_accepted: int = 0
    decided: int = 0
    votes: int = 0
    good: int = 0
    candidates: int = 0

    def add(self, synset: Synset, accepted: np.ndarray, decided: np.ndarray, votes: int) -> None:
        self.accepted += int(accepted.sum())
        self.true_accepted += int((accepted & synset.good).sum())
        self.decided += int(decided.sum())
        self.votes += votes
        self.good += int(synset.good.sum())
        self.candidates += int(synset.good.size)


def fixed_majority(synset: Synset, k: int, rng: np.random.Generator) -> tuple:
    yes = synset.answers[:, :k].sum(axis=1)
    tie_yes = rng.random(yes.size) < 0.5
    accepted = (2 * yes > k) | ((2 * yes == k) & tie_yes)
    return accepted, np.ones_like(accepted), k * yes.size


def imagenet_table(synset: Synset, reject_threshold: float) -> tuple:
    """Seed images get 10 votes; the table then decides every other image vote by vote."""
    yes_all = synset.answers.sum(axis=1)
    table = build_confidence_table(yes_all[synset.seed], SEED_VOTES - yes_all[synset.seed])
    shown = np.where(synset.seed, SEED_VOTES, 0)
    open_items = ~synset.seed
    while open_items.any():
        shown[open_items] += 1
        yes = (synset.answers * (np.arange(MAX_VOTES) < shown[:, None])).sum(axis=1)
        p_good = table.p_good[yes, shown - yes]
        settled = (p_good >= ACCEPT_THRESHOLD) | (p_good <= 1 - reject_threshold)
        open_items &= ~settled & (shown < MAX_VOTES)
    yes = (synset.answers * (np.arange(MAX_VOTES) < shown[:, None])).sum(axis=1)
    p_good = table.p_good[yes, shown - yes]
    accepted = p_good >= ACCEPT_THRESHOLD
    decided = accepted | (p_good <= 1 - reject_threshold)
    return accepted, decided, int(shown.sum())


def _matrix(synset: Synset, shown: np.ndarray, *, with_gold: bool) -> tuple[VoteMatrix, dict]:
    """The synset's revealed votes; gold images are items n, n+1, … with their known answer."""
    n = synset.good.size
    mask = np.arange(MAX_VOTES) < shown[:, None]
    items = np.nonzero(mask)[0]
    workers = synset.workers[mask]
    labels = synset.answers[mask].astype(np.int64)
    gold: dict[int, int] = {}
    if with_gold:
        gold_mask = mask & (synset.gold_image >= 0)
        items = np.concatenate([items, n + synset.gold_image[gold_mask]])
        workers = np.concatenate([workers, synset.workers[gold_mask]])
        labels = np.concatenate([labels, synset.gold_answer[gold_mask].astype(np.int64)])
        gold = {n + g: int(truth) for g, truth in enumerate(synset.gold_good)}
    matrix = VoteMatrix(
        items=tuple(range(n + (N_GOLD_IMAGES if with_gold else 0))),
        workers=tuple(range(N_WORKERS)),
        labels=(0, 1),
        item_index=items,
        worker_index=workers,
        label_index=labels,
    )
    return matrix, gold


def our_model(
    synset: Synset,
    reject_threshold: float,
    *,
    with_gold: bool,
    worker_prior: dict | None,
) -> tuple:
    """Seed set first (10 votes each), then rounds: one more vote for every open image, re-fit
    the model (warm-started), stop settled images. The export uses the final fit."""
    n = synset.good.size
    rule = StoppingRule(
        accept_threshold=ACCEPT_THRESHOLD,
        reject_threshold=reject_threshold,
        max_votes=MAX_VOTES,
        positive=1,
    )
    shown = np.where(synset.seed, SEED_VOTES, 0)
    open_items = ~synset.seed
    posterior = None
    estimate: Estimate | None = None
    while True:
        matrix, gold = _matrix(synset, shown, with_gold=with_gold)
        estimate = fit_model(
            matrix,
            gold=gold,
            worker_prior=worker_prior,
            init_posterior=posterior,
            priors=MODEL_PRIORS,
        )
        posterior = estimate.posterior
        codes = rule.decide_many(posterior[:n], shown, labels=(0, 1))
        open_items &= codes == NEED_MORE
        if not open_items.any():
            break
        shown[open_items] += 1
    gold_votes = int(((np.arange(MAX_VOTES) < shown[:, None]) & (synset.gold_image >= 0)).sum())
    votes = int(shown.sum()) + (gold_votes if with_gold else 0)
    accepted = codes == ACCEPT
    decided = (codes == ACCEPT) | (codes == REJECT)
    return accepted, decided, votes, matrix, gold, estimate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synsets", type=int, default=12)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--accept", type=float, default=0.997, help="τ on P(good)")
    parser.add_argument(
        "--collapsed", action="store_true", help="model with the leave-one-out (CVB0) E-step"
    )
    args = parser.parse_args()
    global ACCEPT_THRESHOLD, MODEL_PRIORS
    ACCEPT_THRESHOLD = args.accept
    MODEL_PRIORS = ModelPriors(collapsed=args.collapsed)
    rng = np.random.default_rng(args.seed)
    crowd = make_crowd(rng)
    # A false reject costs the votes of finding another good image: ~3 votes per candidate over
    # a ~20% good share; an uncertain image takes ~2 more votes to settle.
    reject_threshold = reject_threshold_for_costs(false_reject_cost=3.0 / 0.2, votes_to_settle=2.0)
    levels = np.resize([0.95, 0.85, 0.70], args.synsets)
    names = ("majority-3", "majority-5", "majority-10", "imagenet-table", "model", "model+gold",
             "model+gold+pool")  # fmt: skip
    outcomes = {name: Outcome() for name in names}
    history: list[tuple[VoteMatrix, dict]] = []
    for index, level in enumerate(levels):
        synset = make_synset(rng, crowd, args.candidates, float(level))
        for k in (3, 5, 10):
            outcomes[f"majority-{k}"].add(synset, *fixed_majority(synset, k, rng))
        outcomes["imagenet-table"].add(synset, *imagenet_table(synset, reject_threshold))
        outcomes["model"].add(
            synset, *our_model(synset, reject_threshold, with_gold=False, worker_prior=None)[:3]
        )
        outcomes["model+gold"].add(
            synset, *our_model(synset, reject_threshold, with_gold=True, worker_prior=None)[:3]
        )
        pooled_prior = _pooled_worker_prior(history, index)
        *scores, matrix, gold, _ = our_model(
            synset, reject_threshold, with_gold=True, worker_prior=pooled_prior
        )
        outcomes["model+gold+pool"].add(synset, *scores)
        history.append((matrix, gold))
    print(
        f"{args.synsets} synsets x {args.candidates} candidates, {N_WORKERS} workers "
        f"({SPAMMER_SHARE:.0%} spammers), seed {SEED_IMAGES} images x {SEED_VOTES} votes, "
        f"accept P(good) >= {ACCEPT_THRESHOLD}, reject P(good) <= {1 - reject_threshold:.3f}, "
        f"cap {MAX_VOTES} votes"
    )
    header = ("method", "precision", "recall", "decided", "votes/decided", "votes/candidate")
    print(f"{header[0]:<16} {header[1]:>9} {header[2]:>7} {header[3]:>8} {header[4]:>13} "
          f"{header[5]:>15}")  # fmt: skip
    for name, outcome in outcomes.items():
        precision = outcome.true_accepted / max(outcome.accepted, 1)
        recall = outcome.true_accepted / max(outcome.good, 1)
        decided = outcome.decided / outcome.candidates
        per_decided = outcome.votes / max(outcome.decided, 1)
        per_candidate = outcome.votes / outcome.candidates
        print(
            f"{name:<16} {precision:>9.4f} {recall:>7.3f} {decided:>8.1%} {per_decided:>13.2f} "
            f"{per_candidate:>15.2f}"
        )


def _pooled_worker_prior(history: list[tuple[VoteMatrix, dict]], index: int) -> dict | None:
    """Each worker's confusion fitted on all earlier synsets together (items keyed by synset)."""
    if not history:
        return None
    offset = 0
    items, workers, labels, gold = [], [], [], {}
    for matrix, synset_gold in history:
        items.append(matrix.item_index + offset)
        workers.append(matrix.worker_index)
        labels.append(matrix.label_index)
        gold.update({offset + item: label for item, label in synset_gold.items()})
        offset += matrix.n_items
    pooled = VoteMatrix(
        items=tuple(range(offset)),
        workers=tuple(range(N_WORKERS)),
        labels=(0, 1),
        item_index=np.concatenate(items),
        worker_index=np.concatenate(workers),
        label_index=np.concatenate(labels),
    )
    estimate = fit_model(pooled, gold=gold, priors=MODEL_PRIORS)
    return worker_prior_from_estimate(pooled, estimate, strength=POOLING_STRENGTH)


if __name__ == "__main__":
    main()
