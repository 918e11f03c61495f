"""Simulated ImageNet-like synsets collected online with the project's defaults (Deng et al. 2009
§3.2): precision of accepted images, recall of the good ones and votes per decided image, per
synset difficulty level, over several seeds. Target (issue 15): ≥ 99.7% precision, recall ≥ 0.8,
≤ 4 votes per decided image on average, with no hand-tuned threshold.

Assumptions of the simulated crowd (each a deliberate departure from the model's own):

* Workers. Honest workers have a lasting skill, accuracy logit-normal with mean logit(0.96) and
  s.d. 0.8 on the logit scale: the spread as measured (on rte/temp/product, Dawid–Skene
  accuracies of workers with ≥ 20 votes have s.d. 0.13–0.23, logit s.d. 1.0–1.5, spammers
  included). Besides them, 15% of the workers: 5% sloppy (accuracy ≈ 0.6), 3% lazy (say "yes"
  90% of the time whatever they see), 3% random spammers, 2% adversarial (flip the answer),
  and a ring of 2% colluders who give one shared, truth-independent answer per image.
* Anchored on ImageNet's own crowd. Deng et al. 2009 Fig. 7 gives P(good | yes, no) measured on
  AMT for "cat" (WordNet max depth 13) and "Burmese cat" (max depth 15). The crowd above
  reproduces the "cat" column on synsets of no extra difficulty, and the "Burmese cat" column
  when every worker's logit drops by 1.8 (the run prints both against the paper). A crowd with a
  quarter of bad workers, as earlier versions of this file had, cannot reproduce "cat" at any
  difficulty: its single "yes" is worth at most a likelihood ratio of ~6 where the paper
  measured ~11.
* Images. Each image has a difficulty (a normal shift, s.d. 0.5, of every worker's logit,
  shared by all of them: errors on an image are correlated). 8% of images are ambiguous
  look-alikes: honest workers are right on them at most 65% of the time, and wrong the same way.
* Synsets. Difficulty follows the WordNet max depth (deeper = subtler, Deng et al. 2009 Fig. 7):
  the logit drops by 0.9 per level below depth 13, from 0 at 13 ("cat") to 1.8 at 15 ("Burmese
  cat"), and no further (the paper shows nothing deeper): easy = depth 8–13, medium = 14, hard =
  15–18. The 1,000 ILSVRC-2012 synsets are 77% easy, 7.6% medium and 15.4% hard by this rule
  (max depth in WordNet 3.0); the "imagenet-1k mix" rows weight the levels so. 10–30% of the
  candidates are good.
* Gold. HITs of 24 images hold 2 gold images, answered with the worker's same skill (and the
  gold image's own difficulty); modelled as a gold answer after a candidate vote w.p. 2/22.
* Collection, as the recompute wiring does it: a seed of 50 candidates × 10 votes, then every
  open candidate gets 2 votes (min_votes), then one more per round until the stopping rule
  settles it or it has 10 votes (max_votes); the model is re-fitted every round.

Thresholds: accept at calibrated P(good) ≥ 0.997 (ImageNet's reported precision, the default we
propose for projects), reject at P(good) ≤ 0.05 (the project default τ′ = 0.95); nothing was
tuned on the simulated truth. "votes/decided" divides every vote (seed, undecided images, gold
answers) by the decided images. Fixed majorities of 3 and 5 votes and ImageNet's seed table are
shown for comparison, and so is the frontier: "oracle" decides, with the same collection and
thresholds, on the exact posterior under this file's own law (it knows every worker's kind and
skill, the synset's good share and difficulty, and how image difficulty and look-alikes are
spread), so no rule can beat it on this crowd; "oracle-max-20" is the same with a cap of 20 votes.

Run: .venv/bin/python benchmarks/consensus_sim.py [--seeds 5] [--synsets-per-level 3]
     [--candidates 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit, logit, logsumexp

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from _bench import header  # noqa: E402

from consensus.engine.confidence_table import build_confidence_table  # noqa: E402
from consensus.engine.dynamic import decide_synset  # noqa: E402
from consensus.engine.stopping import ACCEPT, NEED_MORE, REJECT, StoppingRule  # noqa: E402
from consensus.engine.threads import single_threaded_blas  # noqa: E402
from consensus.engine.types import VoteMatrix  # noqa: E402

ACCEPT_THRESHOLD = 0.997  # ImageNet's precision, proposed project default
REJECT_THRESHOLD = 0.95  # project default τ′
MAX_VOTES, MIN_VOTES = 10, 2
ORACLE_MAX_VOTES = 20  # the oracle is also run with this cap, to show what the cap costs
SEED_IMAGES, SEED_VOTES = 50, 10
N_WORKERS = 600
HIT_SIZE, GOLD_PER_HIT = 24, 2
N_GOLD = 30
LEVELS = {"easy": (8, 13), "medium": (14, 14), "hard": (15, 18)}  # WordNet max depth
IMAGENET_1K_MIX = {"easy": 0.77, "medium": 0.076, "hard": 0.154}  # ILSVRC-2012 synsets by level
DEPTH_SHIFT, ANCHOR_DEPTH, MAX_SHIFT = 0.9, 13, 1.8  # logit drop per level below "cat"
DIFFICULTY_SD = 0.5  # s.d. of an image's shift of every worker's logit
AMBIGUOUS_SHARE, AMBIGUOUS_RIGHT = 0.08, 0.65  # look-alikes, and honest workers' ceiling on them
# Kinds whose answers depend on the truth (the others: lazy, random, colluders).
TRUTH_DEPENDENT = ("honest", "sloppy", "adversarial")
KINDS = {"sloppy": 0.05, "lazy_yes": 0.03, "random": 0.03, "adversarial": 0.02, "colluder": 0.02}
# Deng et al. 2009 Fig. 7: P(good | yes, no) on AMT, for the validation printed by the run.
FIG7 = {
    "cat": {(1, 0): 0.85, (0, 1): 0.07, (1, 1): 0.46, (2, 0): 0.97, (0, 2): 0.02, (3, 0): 0.99,
            (2, 1): 0.85},
    "Burmese cat": {(1, 0): 0.69, (0, 1): 0.23, (1, 1): 0.49, (2, 0): 0.83, (0, 2): 0.12,
                    (3, 0): 0.90, (2, 1): 0.68},
}  # fmt: skip
FIG7_DEPTH = {"cat": 13, "Burmese cat": 15}
FIG7_GOOD_SHARE = 0.42  # the class share at which the simulated cells are compared


@dataclass
class Crowd:
    skill: np.ndarray  # logit accuracy of each worker
    kind: np.ndarray  # "honest" or one of KINDS
    activity: np.ndarray  # probability of being the next worker


def make_crowd(rng: np.random.Generator) -> Crowd:
    kind = np.full(N_WORKERS, "honest", dtype=object)
    order = rng.permutation(N_WORKERS)
    start = 0
    for name, share in KINDS.items():
        count = int(round(share * N_WORKERS))
        kind[order[start : start + count]] = name
        start += count
    skill = rng.normal(logit(0.96), 0.8, N_WORKERS)
    skill[kind == "sloppy"] = rng.normal(logit(0.6), 0.2, int((kind == "sloppy").sum()))
    weight = rng.lognormal(0.0, 1.5, N_WORKERS)
    activity = weight / weight.sum()
    return Crowd(skill=skill, kind=kind, activity=activity)


@dataclass
class Synset:
    level: str
    good: np.ndarray  # candidates + gold images (gold after the candidates)
    answers: np.ndarray  # (candidates, ORACLE_MAX_VOTES) the k-th vote on each candidate
    workers: np.ndarray  # (candidates, ORACLE_MAX_VOTES)
    gold_answers: np.ndarray  # (gold images, N_WORKERS) what each worker answers on each
    n_candidates: int
    shift: float  # logit drop of every worker on this synset (from its depth)
    share: float  # share of good candidates

    def capped(self, max_votes: int) -> Synset:
        """The same synset with at most ``max_votes`` votes per candidate available."""
        return replace(
            self, answers=self.answers[:, :max_votes], workers=self.workers[:, :max_votes]
        )


def _answers(
    rng: np.random.Generator, crowd: Crowd, good: np.ndarray, workers: np.ndarray, shift: float
) -> np.ndarray:
    n_images = good.size
    difficulty = rng.normal(0.0, DIFFICULTY_SD, n_images)
    ambiguous = rng.random(n_images) < AMBIGUOUS_SHARE
    logit_right = crowd.skill[workers] - shift - difficulty[:, None]
    p_right = expit(logit_right)
    p_right = np.where(ambiguous[:, None], np.minimum(p_right, AMBIGUOUS_RIGHT), p_right)
    truth = good[:, None]
    answers = np.where(rng.random(workers.shape) < p_right, truth, ~truth)
    kind = crowd.kind[workers]
    answers = np.where(kind == "adversarial", ~answers, answers)
    answers = np.where(kind == "random", rng.random(workers.shape) < 0.5, answers)
    answers = np.where(kind == "lazy_yes", rng.random(workers.shape) < 0.9, answers)
    collusion = rng.random(n_images) < 0.5  # the ring's shared answer, independent of truth
    answers = np.where(kind == "colluder", collusion[:, None], answers)
    return answers


def depth_shift(depth: int) -> float:
    """How much a synset at this WordNet max depth lowers every worker's logit."""
    return float(np.clip(DEPTH_SHIFT * (depth - ANCHOR_DEPTH), 0.0, MAX_SHIFT))


def fig7_cells(rng: np.random.Generator, crowd: Crowd, depth: int, n_images: int = 20_000) -> dict:
    """P(good | yes, no) of the first one to three votes on simulated images, as Fig. 7."""
    good = rng.random(n_images) < FIG7_GOOD_SHARE
    workers = np.stack(
        [rng.choice(N_WORKERS, 3, replace=False, p=crowd.activity) for _ in range(n_images)]
    )
    answers = _answers(rng, crowd, good, workers, depth_shift(depth))
    cells = {}
    for k in (1, 2, 3):
        yes = answers[:, :k].sum(axis=1)
        for y in range(k + 1):
            cells[(y, k - y)] = float(good[yes == y].mean())
    return cells


def make_synset(
    rng: np.random.Generator, crowd: Crowd, n_candidates: int, level: str, votes: int
) -> Synset:
    low, high = LEVELS[level]
    depth = rng.integers(low, high + 1)
    shift = depth_shift(depth)
    share = rng.uniform(0.1, 0.3)
    good = rng.random(n_candidates + N_GOLD) < share
    workers = np.empty((n_candidates, votes), dtype=np.int64)
    for image in range(n_candidates):
        workers[image] = rng.choice(N_WORKERS, votes, replace=False, p=crowd.activity)
    answers = _answers(rng, crowd, good[:n_candidates], workers, shift)
    everyone = np.tile(np.arange(N_WORKERS), (N_GOLD, 1))
    gold_answers = _answers(rng, crowd, good[n_candidates:], everyone, shift)
    return Synset(level, good, answers, workers, gold_answers, n_candidates, shift, share)


@dataclass
class Outcome:
    accepted: int = 0
    true_accepted: int = 0
    decided: int = 0
    votes: int = 0
    good: int = 0
    per_seed: list[tuple[float, float, float]] = field(default_factory=list)

    def add(self, synset: Synset, accepted: np.ndarray, decided: np.ndarray, votes: int) -> None:
        good = synset.good[: synset.n_candidates]
        self.accepted += int(accepted.sum())
        self.true_accepted += int((accepted & good).sum())
        self.decided += int(decided.sum())
        self.votes += votes
        self.good += int(good.sum())

    @property
    def precision(self) -> float:
        return self.true_accepted / max(self.accepted, 1)

    @property
    def recall(self) -> float:
        return self.true_accepted / max(self.good, 1)

    @property
    def votes_per_decided(self) -> float:
        return self.votes / max(self.decided, 1)


def fixed_majority(synset: Synset, k: int, rng: np.random.Generator) -> tuple:
    n = synset.n_candidates
    yes = synset.answers[:, :k].sum(axis=1)
    accepted = (2 * yes > k) | ((2 * yes == k) & (rng.random(n) < 0.5))
    return accepted, np.ones(n, dtype=bool), k * n


def imagenet_table(synset: Synset, seed_rows: np.ndarray) -> tuple:
    n = synset.n_candidates
    yes_all = synset.answers[:, :SEED_VOTES].sum(axis=1)
    table = build_confidence_table(yes_all[seed_rows], SEED_VOTES - yes_all[seed_rows])
    is_seed = np.zeros(n, dtype=bool)
    is_seed[seed_rows] = True
    shown = np.where(is_seed, SEED_VOTES, MIN_VOTES - 1)
    open_items = ~is_seed
    while open_items.any():
        shown[open_items] += 1
        yes = (synset.answers * (np.arange(MAX_VOTES) < shown[:, None])).sum(axis=1)
        p_good = table.p_good[yes, shown - yes]
        settled = (p_good >= ACCEPT_THRESHOLD) | (p_good <= 1 - REJECT_THRESHOLD)
        open_items &= ~settled & (shown < MAX_VOTES)
    yes = (synset.answers * (np.arange(MAX_VOTES) < shown[:, None])).sum(axis=1)
    p_good = table.p_good[yes, shown - yes]
    accepted = (p_good >= ACCEPT_THRESHOLD) & ~is_seed
    decided = accepted | ((p_good <= 1 - REJECT_THRESHOLD) & ~is_seed)
    return accepted, decided, int(shown.sum())


def _matrix(synset: Synset, shown: np.ndarray, gold_after: np.ndarray) -> tuple[VoteMatrix, dict]:
    """Candidate votes revealed so far, plus the gold answers given in the same HITs."""
    n = synset.n_candidates
    mask = np.arange(MAX_VOTES) < shown[:, None]
    items = np.nonzero(mask)[0]
    workers = synset.workers[mask]
    labels = synset.answers[mask].astype(np.int64)
    gold_mask = mask & (gold_after >= 0)
    gold_items = gold_after[gold_mask]
    gold_workers = synset.workers[gold_mask]
    gold_labels = synset.gold_answers[gold_items, gold_workers].astype(np.int64)
    # A worker answers a gold image once, however many of their HITs hold it.
    pairs = np.unique(np.c_[gold_items, gold_workers], axis=0, return_index=True)[1]
    items = np.concatenate([items, n + gold_items[pairs]])
    workers = np.concatenate([workers, gold_workers[pairs]])
    labels = np.concatenate([labels, gold_labels[pairs]])
    matrix = VoteMatrix(
        items=tuple(range(n + N_GOLD)),
        workers=tuple(range(N_WORKERS)),
        labels=(0, 1),
        item_index=items,
        worker_index=workers,
        label_index=labels,
    )
    gold = {n + g: int(synset.good[n + g]) for g in range(N_GOLD)}
    return matrix, gold


def oracle_log_likelihood(crowd: Crowd, synset: Synset, shown: np.ndarray) -> np.ndarray:
    """log P(the first ``shown`` votes | bad), log P(… | good) per candidate (candidates × 2),
    under the simulator's own law: each worker's kind and skill, the synset's shift, and the
    image's difficulty and look-alike flag integrated out (Gauss–Hermite over the difficulty).
    Votes of the truth-independent kinds (lazy, random, colluders) cancel from the ratio."""
    nodes, weights = hermegauss(21)
    log_weights = np.log(weights / weights.sum())
    workers, answers = synset.workers, synset.answers
    kind = crowd.kind[workers]
    counted = (np.arange(workers.shape[1]) < shown[:, None]) & np.isin(kind, TRUTH_DEPENDENT)
    flipped = kind == "adversarial"
    p_right = expit(crowd.skill[workers][..., None] - synset.shift - DIFFICULTY_SD * nodes)
    out = np.empty((synset.n_candidates, 2))
    for truth in (0, 1):
        right = ((answers == bool(truth)) ^ flipped)[..., None]
        terms = []
        for ambiguous, share in ((False, 1 - AMBIGUOUS_SHARE), (True, AMBIGUOUS_SHARE)):
            p = np.minimum(p_right, AMBIGUOUS_RIGHT) if ambiguous else p_right
            per_vote = np.where(counted[..., None], np.log(np.where(right, p, 1 - p)), 0.0)
            terms.append(logsumexp(per_vote.sum(axis=1) + log_weights, axis=1) + np.log(share))
        out[:, truth] = np.logaddexp(*terms)
    return out


def bayes_oracle(crowd: Crowd, synset: Synset, seed_rows: np.ndarray, max_votes: int) -> tuple:
    """The best any stopping rule can do on this crowd: the same collection (seed counted, min
    and max votes, thresholds) deciding on the exact posterior, which knows every worker's kind
    and skill, the synset's good share and shift, and the image-difficulty law. It needs no gold,
    and asks for none. Like the model, it decides a label only when two votes of truth-dependent
    workers back it (no decision on one worker's word)."""
    n = synset.n_candidates
    is_seed = np.zeros(n, dtype=bool)
    is_seed[seed_rows] = True
    shown = np.where(is_seed, SEED_VOTES, MIN_VOTES)
    open_items = ~is_seed
    accepted = np.zeros(n, dtype=bool)
    rejected = np.zeros(n, dtype=bool)
    log_prior = np.log(synset.share / (1 - synset.share))
    kind = crowd.kind[synset.workers]
    # What each vote backs if its worker's answers depend on the truth (an adversary's "no"
    # backs "yes"); the other kinds back nothing.
    says_good = np.where(kind == "adversarial", ~synset.answers, synset.answers)
    backs = np.isin(kind, TRUTH_DEPENDENT)
    while open_items.any():
        log_lik = oracle_log_likelihood(crowd, synset, shown)
        p_good = expit(log_lik[:, 1] - log_lik[:, 0] + log_prior)
        counted = backs & (np.arange(backs.shape[1]) < shown[:, None])
        for_good = (counted & says_good).sum(axis=1)
        against = (counted & ~says_good).sum(axis=1)
        accepted |= open_items & (p_good >= ACCEPT_THRESHOLD) & (for_good >= 2)
        rejected |= open_items & (p_good <= 1 - REJECT_THRESHOLD) & (against >= 2)
        open_items &= ~(accepted | rejected) & (shown < max_votes)
        shown[open_items] += 1
    return accepted, accepted | rejected, int(shown.sum())


def our_model(synset: Synset, seed_rows: np.ndarray, rng: np.random.Generator) -> tuple:
    n = synset.n_candidates
    rule = StoppingRule(
        accept_threshold=ACCEPT_THRESHOLD,
        reject_threshold=REJECT_THRESHOLD,
        max_votes=MAX_VOTES,
        positive=1,
    )
    has_gold = rng.random((n, MAX_VOTES)) < GOLD_PER_HIT / (HIT_SIZE - GOLD_PER_HIT)
    gold_after = np.where(has_gold, rng.integers(0, N_GOLD, (n, MAX_VOTES)), -1)
    is_seed = np.zeros(n, dtype=bool)
    is_seed[seed_rows] = True
    shown = np.where(is_seed, SEED_VOTES, MIN_VOTES)
    open_items = ~is_seed
    closed_code = np.full(n, NEED_MORE)
    posterior = None
    while True:
        matrix, gold = _matrix(synset, shown, gold_after)
        result = decide_synset(
            matrix, rule=rule, gold=gold, seed_rows=seed_rows, init_posterior=posterior
        )
        posterior = result.estimate.posterior
        codes = result.codes[:n]
        # An image leaves collection with the decision it had at that moment.
        closing = open_items & (codes != NEED_MORE)
        closed_code[closing] = codes[closing]
        open_items &= codes == NEED_MORE
        if not open_items.any():
            break
        shown[open_items] += 1
    accepted = closed_code == ACCEPT
    decided = (closed_code == ACCEPT) | (closed_code == REJECT)
    return accepted, decided, matrix.n_votes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--synsets-per-level", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=1000)
    args = parser.parse_args()
    single_threaded_blas()  # as the consensus worker runs (consensus.engine.threads)
    header("consensus on simulated ImageNet-like synsets (consensus_sim)")
    oracle_capped = f"oracle-max-{ORACLE_MAX_VOTES}"
    names = ("majority-3", "majority-5", "imagenet-table", "model", "oracle", oracle_capped)
    totals = {(name, level): Outcome() for name in names for level in (*LEVELS, "all")}
    started = time.perf_counter()
    vote_accuracy: dict[str, list[float]] = {level: [] for level in LEVELS}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        crowd = make_crowd(rng)
        per_seed = {(name, level): Outcome() for name in names for level in (*LEVELS, "all")}
        for level in LEVELS:
            for _ in range(args.synsets_per_level):
                full = make_synset(rng, crowd, args.candidates, level, ORACLE_MAX_VOTES)
                synset = full.capped(MAX_VOTES)
                seed_rows = np.sort(rng.choice(args.candidates, SEED_IMAGES, replace=False))
                right = synset.answers == synset.good[: synset.n_candidates, None]
                vote_accuracy[level].append(float(right.mean()))
                results = {
                    "majority-3": fixed_majority(synset, 3, rng),
                    "majority-5": fixed_majority(synset, 5, rng),
                    "imagenet-table": imagenet_table(synset, seed_rows),
                    "model": our_model(synset, seed_rows, rng),
                    "oracle": bayes_oracle(crowd, synset, seed_rows, MAX_VOTES),
                    oracle_capped: bayes_oracle(crowd, full, seed_rows, ORACLE_MAX_VOTES),
                }
                for name, outcome in results.items():
                    for key in ((name, level), (name, "all")):
                        per_seed[key].add(synset, *outcome)
                        totals[key].add(synset, *outcome)
        for key, outcome in per_seed.items():
            totals[key].per_seed.append(
                (outcome.precision, outcome.recall, outcome.votes_per_decided)
            )
    print(
        f"{args.seeds} seeds x {3 * args.synsets_per_level} synsets x {args.candidates} "
        f"candidates, {N_WORKERS} workers; seed {SEED_IMAGES} x {SEED_VOTES} votes, "
        f"min {MIN_VOTES} / max {MAX_VOTES} votes, accept P >= {ACCEPT_THRESHOLD}, "
        f"reject P <= {1 - REJECT_THRESHOLD:.2f}; {time.perf_counter() - started:.0f} s"
    )
    print(
        "share of right votes: "
        + ", ".join(f"{level} {np.mean(values):.3f}" for level, values in vote_accuracy.items())
    )
    crowd = make_crowd(np.random.default_rng(1000))
    for name, paper in FIG7.items():
        simulated = fig7_cells(np.random.default_rng(1001), crowd, FIG7_DEPTH[name])
        print(
            f"Fig. 7 {name!r} (depth {FIG7_DEPTH[name]}), P(good | yes, no) paper / simulated: "
            + ", ".join(f"{y}-{n} {p:.2f}/{simulated[(y, n)]:.2f}" for (y, n), p in paper.items())
        )
    print("pooled over seeds; in brackets the min-max over the seeds")
    columns = ("method", "level", "precision", "recall", "votes/decided")
    print(f"{columns[0]:<15} {columns[1]:<7} {columns[2]:>24} {columns[3]:>22} {columns[4]:>22}")
    for name in names:
        for level in (*LEVELS, "all"):
            outcome = totals[(name, level)]
            runs = np.array(outcome.per_seed)
            low, high = runs.min(axis=0), runs.max(axis=0)
            print(
                f"{name:<15} {level:<7} {outcome.precision:>8.4f} [{low[0]:.4f}-{high[0]:.4f}] "
                f"{outcome.recall:>6.3f} [{low[1]:.3f}-{high[1]:.3f}] "
                f"{outcome.votes_per_decided:>6.2f} [{low[2]:.2f}-{high[2]:.2f}]"
            )
    shares = ", ".join(f"{level} {share:.1%}" for level, share in IMAGENET_1K_MIX.items())
    print(f"imagenet-1k mix: levels weighted as the ILSVRC-2012 synsets ({shares})")
    for name in names:
        mixed = [totals[(name, level)] for level in LEVELS]
        weights = [IMAGENET_1K_MIX[level] for level in LEVELS]
        accepted = sum(w * o.accepted for w, o in zip(weights, mixed, strict=True))
        right = sum(w * o.true_accepted for w, o in zip(weights, mixed, strict=True))
        good = sum(w * o.good for w, o in zip(weights, mixed, strict=True))
        votes = sum(w * o.votes for w, o in zip(weights, mixed, strict=True))
        decided = sum(w * o.decided for w, o in zip(weights, mixed, strict=True))
        print(
            f"{name:<15} {'mix':<7} {right / max(accepted, 1e-9):>8.4f} {'':>15} "
            f"{right / max(good, 1e-9):>6.3f} {'':>13} {votes / max(decided, 1e-9):>6.2f}"
        )


if __name__ == "__main__":
    main()
