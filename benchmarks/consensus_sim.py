"""Simulated ImageNet-like synsets collected online (Deng et al. 2009 §3.2): precision of accepted
images and votes per decided image for fixed majorities of 3/5/10 votes, ImageNet's confidence
table, and our model. Target: ≥ 99.7% precision with fewer votes than a fixed 5-vote majority.

Synsets: 10–30% good candidates; a third easy (workers ~95% right), a third medium (~85%), a
third hard (~70%); each worker's sensitivity and specificity scatter around the synset's level;
10% of workers are spammers (half answer at random, half always "yes").

Run: .venv/bin/python benchmarks/consensus_sim.py [--synsets N] [--candidates N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labeling.consensus.confidence_table import build_confidence_table  # noqa: E402
from labeling.consensus.model import fit_model  # noqa: E402
from labeling.consensus.stopping import ACCEPT, NEED_MORE, StoppingRule  # noqa: E402
from labeling.consensus.types import VoteMatrix  # noqa: E402

ACCEPT_THRESHOLD = 0.997  # ImageNet's reported precision, used as the posterior target
REJECT_THRESHOLD = 0.99
MAX_VOTES = 10
SEED_IMAGES = 100  # paper's "initial subset"; it gives no size
N_WORKERS = 60


@dataclass
class Synset:
    good: np.ndarray  # (candidates,) bool
    answers: np.ndarray  # (candidates, MAX_VOTES) bool: the k-th worker's yes/no on each image
    workers: np.ndarray  # (candidates, MAX_VOTES) int: who gave it (distinct per image)
    level: float


def make_synset(rng: np.random.Generator, n_candidates: int, level: float) -> Synset:
    good = rng.random(n_candidates) < rng.uniform(0.1, 0.3)
    sensitivity = np.clip(rng.normal(level, 0.05, N_WORKERS), 0.55, 0.995)
    specificity = np.clip(rng.normal(level, 0.05, N_WORKERS), 0.55, 0.995)
    spammers = rng.permutation(N_WORKERS)[: N_WORKERS // 10]
    random_spammers, yes_spammers = np.array_split(spammers, 2)
    sensitivity[random_spammers] = specificity[random_spammers] = 0.5
    sensitivity[yes_spammers], specificity[yes_spammers] = 1.0, 0.0
    workers = np.argsort(rng.random((n_candidates, N_WORKERS)), axis=1)[:, :MAX_VOTES]
    p_yes = np.where(good[:, None], sensitivity[workers], 1.0 - specificity[workers])
    answers = rng.random(workers.shape) < p_yes
    return Synset(good=good, answers=answers, workers=workers, level=level)


@dataclass
class Outcome:
    accepted: int = 0
    true_accepted: int = 0
    decided: int = 0
    votes: int = 0
    good: int = 0

    def add(self, synset: Synset, accepted: np.ndarray, decided: np.ndarray, votes: int) -> None:
        self.accepted += int(accepted.sum())
        self.true_accepted += int((accepted & synset.good).sum())
        self.decided += int(decided.sum())
        self.votes += votes
        self.good += int(synset.good.sum())


def fixed_majority(synset: Synset, k: int, rng: np.random.Generator) -> tuple:
    yes = synset.answers[:, :k].sum(axis=1)
    tie_yes = rng.random(yes.size) < 0.5
    accepted = (2 * yes > k) | ((2 * yes == k) & tie_yes)
    return accepted, np.ones_like(accepted), k * yes.size


def imagenet_table(synset: Synset) -> tuple:
    """Seed images get 10 votes; the table then decides every other image vote by vote."""
    n = synset.good.size
    yes_all = synset.answers.sum(axis=1)
    seed = np.zeros(n, dtype=bool)
    seed[:SEED_IMAGES] = True  # candidates are in random order already
    table = build_confidence_table(yes_all[seed], MAX_VOTES - yes_all[seed])
    shown = np.where(seed, MAX_VOTES, 0)
    open_items = ~seed
    while open_items.any():
        shown[open_items] += 1
        yes = (synset.answers * (np.arange(MAX_VOTES) < shown[:, None])).sum(axis=1)
        p_good = table.p_good[yes, shown - yes]
        settled = (p_good >= ACCEPT_THRESHOLD) | (p_good <= 1 - REJECT_THRESHOLD)
        open_items &= ~settled & (shown < MAX_VOTES)
    yes = (synset.answers * (np.arange(MAX_VOTES) < shown[:, None])).sum(axis=1)
    p_good = table.p_good[yes, shown - yes]
    accepted = p_good >= ACCEPT_THRESHOLD
    decided = accepted | (p_good <= 1 - REJECT_THRESHOLD)
    return accepted, decided, int(shown.sum())


def our_model(synset: Synset) -> tuple:
    """Rounds: one more vote for every open image, re-fit the model, stop settled images."""
    n = synset.good.size
    rule = StoppingRule(
        accept_threshold=ACCEPT_THRESHOLD,
        reject_threshold=REJECT_THRESHOLD,
        max_votes=MAX_VOTES,
        positive=1,
    )
    shown = np.zeros(n, dtype=np.int64)
    open_items = np.ones(n, dtype=bool)
    posterior = None
    codes = np.full(n, NEED_MORE)
    while open_items.any():
        shown[open_items] += 1
        mask = np.arange(MAX_VOTES) < shown[:, None]
        items = np.nonzero(mask)[0]
        matrix = VoteMatrix(
            items=tuple(range(n)),
            workers=tuple(range(N_WORKERS)),
            labels=(0, 1),
            item_index=items,
            worker_index=synset.workers[mask],
            label_index=synset.answers[mask].astype(np.int64),
        )
        posterior = fit_model(matrix, init_posterior=posterior).posterior
        codes = rule.decide_many(posterior, shown, labels=(0, 1))
        open_items &= codes == NEED_MORE
    accepted = codes == ACCEPT
    decided = codes < NEED_MORE
    return accepted, decided, int(shown.sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synsets", type=int, default=12)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    levels = np.resize([0.95, 0.85, 0.70], args.synsets)
    outcomes = {
        name: Outcome()
        for name in ("majority-3", "majority-5", "majority-10", "imagenet-table", "model")
    }
    for level in levels:
        synset = make_synset(rng, args.candidates, float(level))
        for k in (3, 5, 10):
            outcomes[f"majority-{k}"].add(synset, *fixed_majority(synset, k, rng))
        outcomes["imagenet-table"].add(synset, *imagenet_table(synset))
        outcomes["model"].add(synset, *our_model(synset))
    print(
        f"{args.synsets} synsets x {args.candidates} candidates, accept tau={ACCEPT_THRESHOLD}, "
        f"reject tau'={REJECT_THRESHOLD}, cap {MAX_VOTES} votes"
    )
    print(f"{'method':<15} {'precision':>9} {'recall':>7} {'decided':>8} {'votes/decided':>13}")
    for name, outcome in outcomes.items():
        precision = outcome.true_accepted / max(outcome.accepted, 1)
        recall = outcome.true_accepted / max(outcome.good, 1)
        decided = outcome.decided / (args.synsets * args.candidates)
        per_decided = outcome.votes / max(outcome.decided, 1)
        print(f"{name:<15} {precision:>9.4f} {recall:>7.3f} {decided:>8.1%} {per_decided:>13.2f}")


if __name__ == "__main__":
    main()
