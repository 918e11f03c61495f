"""Consensus methods on the real crowd archives of shared/data/crowd: offline accuracy with all
votes (majority vote, Dawid–Skene, our model) and online replay of our model at several
thresholds; writes benchmarks/out/consensus_real.png (accuracy vs votes per item).

Run: .venv/bin/python benchmarks/consensus_real.py [--seed S]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consensus.engine.evaluation import (  # noqa: E402
    evaluate_offline,
    load_truth,
    load_votes,
    replay_online,
)

CROWD = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "crowd"
DATASETS = ("bluebirds", "rte", "temp", "product", "web")
# crowd-kit 1.4.2 Dawid–Skene on all votes (shared/data/README.md), the bar to clear.
CROWD_KIT_BEST = {"bluebirds": 0.889, "rte": 0.928, "temp": 0.942, "product": 0.940, "web": 0.829}
THRESHOLDS = (0.9, 0.99, 0.999, 0.9999, 0.99999)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    curves = {}
    print(f"{'dataset':<10} {'MV':>6} {'DS':>6} {'model':>6} {'loo':>6} {'ck-best':>7}")
    offline = {}
    for name in DATASETS:
        matrix = load_votes(CROWD / name / "votes.csv")
        truth = load_truth(CROWD / name / "truth.csv")
        scores = {
            method: evaluate_offline(matrix, truth, method, seed=args.seed).accuracy
            for method in ("mv", "ds", "model", "model-loo")
        }
        offline[name] = (matrix, truth, scores)
        print(
            f"{name:<10} {scores['mv']:>6.3f} {scores['ds']:>6.3f} {scores['model']:>6.3f} "
            f"{scores['model-loo']:>6.3f} "
            f"{CROWD_KIT_BEST[name]:>7.3f}"
        )

    print("\nonline replay (rounds, re-fit every round, cap = all archived votes)")
    columns = ("dataset", "method", "tau", "accuracy", "votes/item", "of votes")
    print("{:<10} {:<9} {:>8} {:>8} {:>10} {:>8}".format(*columns))
    for name, (matrix, truth, scores) in offline.items():
        full_votes = matrix.n_votes / matrix.n_items
        points = []
        for method in ("model", "model-loo"):
            for threshold in THRESHOLDS:
                replay = replay_online(
                    matrix, truth, method, threshold=threshold, max_votes=10_000, seed=args.seed
                )
                if method == "model":
                    points.append((replay.mean_votes, replay.scores.accuracy))
                print(
                    f"{name:<10} {method:<9} {threshold:>8} {replay.scores.accuracy:>8.3f} "
                    f"{replay.mean_votes:>10.2f} {replay.vote_fraction:>8.1%}"
                )
        curves[name] = (points, full_votes, scores)
    _plot(curves)


def _plot(curves: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.6))
    for axis, (name, (points, full_votes, scores)) in zip(axes, curves.items(), strict=True):
        votes, accuracy = zip(*points, strict=True)
        axis.plot(votes, accuracy, "o-", label="model, online")
        axis.plot([full_votes], [scores["model"]], "s", label="model, all votes")
        axis.plot([full_votes], [scores["ds"]], "^", label="Dawid–Skene, all votes")
        axis.plot([full_votes], [scores["mv"]], "v", label="majority, all votes")
        axis.axhline(CROWD_KIT_BEST[name], color="grey", linestyle=":", linewidth=1)
        axis.set_title(name)
        axis.set_xlabel("votes per item")
        axis.set_ylabel("accuracy")
    axes[0].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    figure.savefig(out / "consensus_real.png", dpi=110)
    print(f"\nplot: {out / 'consensus_real.png'}")


if __name__ == "__main__":
    main()
