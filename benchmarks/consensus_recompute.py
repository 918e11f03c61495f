"""Time to recompute the consensus of one synset: 10,000 candidates × 10 votes (target < 1 s).

Run: .venv/bin/python benchmarks/consensus_recompute.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consensus.engine.model import fit_model  # noqa: E402
from consensus.engine.types import VoteMatrix  # noqa: E402


def synset_votes(n_items: int = 10_000, votes_per_item: int = 10, n_workers: int = 500) -> tuple:
    rng = np.random.default_rng(0)
    truth = rng.random(n_items) < 0.2
    skill = np.clip(rng.normal(0.8, 0.1, n_workers), 0.5, 0.99)
    items = np.repeat(np.arange(n_items), votes_per_item)
    workers = rng.integers(0, n_workers, items.size)
    right = rng.random(items.size) < skill[workers]
    labels = np.where(right, truth[items], ~truth[items]).astype(np.int64)
    matrix = VoteMatrix(
        items=tuple(range(n_items)),
        workers=tuple(range(n_workers)),
        labels=(0, 1),
        item_index=items,
        worker_index=workers,
        label_index=labels,
    )
    return matrix, truth


def main() -> None:
    matrix, truth = synset_votes()
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        estimate = fit_model(matrix)
        timings.append(time.perf_counter() - started)
    accuracy = float(np.mean(estimate.predicted() == truth))
    print(
        f"recompute 10,000 candidates x 10 votes: median {statistics.median(timings):.3f} s, "
        f"max {max(timings):.3f} s, {estimate.iterations} EM iterations, accuracy {accuracy:.4f}"
    )
    started = time.perf_counter()
    VoteMatrix.from_columns(
        matrix.item_index.tolist(), matrix.worker_index.tolist(), matrix.label_index.tolist()
    )
    print(f"encoding 100,000 raw votes: {time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()
