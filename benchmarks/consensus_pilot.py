"""Small pilot synsets: what the calibrated consensus can certify when a synset has only a few
dozen candidates, every one in the seed set with its 10 votes, and few or no gold images.

Each draw: ``--images`` seed images of which ``--good`` show the synset, 10 votes each from 19
workers whose accuracy is ``--accuracy`` (± 0.03 per worker, errors independent given the
truth), and ``--gold-yes`` / ``--gold-no`` gold images answered by ``--gold-votes`` workers each.
The engine decides at τ = τ′ = ``--tau`` exactly as a recompute would (seed images calibrate).
Reported over ``--draws`` draws: good images accepted (recall), wrongly accepted images, and
the share of draws in which *no* good image could be accepted (the pilot's class is missing
from its export). Counts, not times.

Run: .venv/bin/python benchmarks/consensus_pilot.py [--draws 200] [--images 20] [--good 6]
     [--gold-yes 0] [--gold-no 0] [--gold-votes 10] [--accuracy 0.8875] [--tau 0.95]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from _bench import header  # noqa: E402

from consensus.engine.dynamic import decide_synset  # noqa: E402
from consensus.engine.stopping import ACCEPT, StoppingRule  # noqa: E402
from consensus.engine.threads import single_threaded_blas  # noqa: E402
from consensus.engine.types import Vote, VoteMatrix  # noqa: E402

WORKERS, SEED_VOTES = 19, 10


def draw(args: argparse.Namespace, seed: int) -> tuple[int, int, int]:
    """(good images accepted, bad images accepted, good images) of one simulated pilot."""
    rng = np.random.default_rng(seed)
    truth = [i < args.good for i in range(args.images)]
    truth += [True] * args.gold_yes + [False] * args.gold_no
    skill = np.clip(args.accuracy + rng.normal(0.0, 0.03, WORKERS), 0.5, 0.995)
    votes = []
    for item, good in enumerate(truth):
        n = SEED_VOTES if item < args.images else args.gold_votes
        for worker in rng.choice(WORKERS, size=n, replace=False):
            right = rng.random() < skill[worker]
            votes.append(Vote(item=item, worker=int(worker), label=good if right else not good))
    matrix = VoteMatrix.from_votes(votes, label_set=[False, True])
    row = {item: index for index, item in enumerate(matrix.items)}
    gold = {item: truth[item] for item in range(args.images, len(truth))}
    rule = StoppingRule(
        accept_threshold=args.tau, reject_threshold=args.tau, max_votes=SEED_VOTES, positive=True
    )
    decision = decide_synset(
        matrix, rule=rule, gold=gold or None,
        seed_rows=np.array([row[item] for item in range(args.images)], dtype=np.int64),
    )  # fmt: skip
    accepted = [item for item in range(args.images) if decision.codes[row[item]] == ACCEPT]
    good = sum(truth[item] for item in accepted)
    return good, len(accepted) - good, args.good


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--good", type=int, default=6)
    parser.add_argument("--gold-yes", type=int, default=0)
    parser.add_argument("--gold-no", type=int, default=0)
    parser.add_argument("--gold-votes", type=int, default=10)
    parser.add_argument("--accuracy", type=float, default=0.8875)
    parser.add_argument("--tau", type=float, default=0.95)
    args = parser.parse_args()
    single_threaded_blas()  # as the consensus worker runs (consensus.engine.threads)
    if not 0 < args.good < args.images or args.gold_votes > WORKERS:
        parser.error("need 0 < --good < --images and --gold-votes ≤ 19")
    header("consensus on small pilot synsets (consensus_pilot)")
    print(
        f"{args.images} seed images ({args.good} good) x {SEED_VOTES} votes, gold "
        f"{args.gold_yes} yes + {args.gold_no} no x {args.gold_votes} votes, workers "
        f"{args.accuracy:.3f} right, tau {args.tau}, {args.draws} draws"
    )
    results = np.array([draw(args, seed) for seed in range(args.draws)])
    good, bad, total = results.sum(axis=0)
    empty = int((results[:, 0] == 0).sum())
    print(f"good images accepted (recall): {good}/{total} = {good / total:.3f}")
    print(f"bad images accepted: {bad}")
    print(f"draws with no good image accepted: {empty}/{args.draws} = {empty / args.draws:.3f}")


if __name__ == "__main__":
    main()
