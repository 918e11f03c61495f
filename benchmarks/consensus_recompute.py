"""Time to recompute the consensus of one synset: 10,000 candidates × 10 votes (target < 1 s).

The engine alone: the raw fit (``fit_model``) and the full calibrated decision
(``decide_synset``: fit, held-out model choice, calibration on the first 50 images as the seed
set, support and stopping rule), cold and resumed from the last fit as a recompute after one HIT
resumes it. ``--blas-threads default`` leaves OpenBLAS its own threads (the app runs one).
``--db`` also runs benchmarks/recompute_db.py, which times the whole recompute on PostgreSQL
(read votes, engine, write items) for the same synset size.

Run: .venv/bin/python benchmarks/consensus_recompute.py [--db] [--blas-threads one|default]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from _bench import header  # noqa: E402

from consensus.engine.dynamic import decide_synset  # noqa: E402
from consensus.engine.model import fit_model  # noqa: E402
from consensus.engine.stopping import StoppingRule  # noqa: E402
from consensus.engine.threads import single_threaded_blas  # noqa: E402
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
    import argparse
    import subprocess

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", action="store_true", help="also time the recompute on PostgreSQL")
    parser.add_argument(
        "--blas-threads", choices=["one", "default"], default="one",
        help="one: as every Django process runs the engine (consensus.engine.threads); "
             "default: OpenBLAS's own thread count, for comparison",
    )  # fmt: skip
    args = parser.parse_args()
    if args.blas_threads == "one":
        single_threaded_blas()
    header("consensus engine alone, one synset of 10,000 candidates × 10 votes (target < 1 s)")
    matrix, truth = synset_votes()
    rule = StoppingRule(accept_threshold=0.997, reject_threshold=0.95, positive=1)
    timings_full = []
    for _ in range(5):
        started = time.perf_counter()
        decision = decide_synset(matrix, rule=rule, seed_rows=np.arange(50))
        timings_full.append(time.perf_counter() - started)
    print(
        f"decide_synset 10,000 x 10 votes: median {statistics.median(timings_full):.3f} s, "
        f"max {max(timings_full):.3f} s, model {decision.model}, "
        f"accuracy {np.mean(decision.posterior.argmax(axis=1) == truth):.4f} (target < 1 s)"
    )
    # Resumed as a recompute after one HIT resumes it: from the posteriors as stored (rounded
    # to four decimals) and the last fit's mixture, keeping the workers model.
    stored = np.round(decision.posterior, 4)
    resumed_timings = []
    for _ in range(5):
        started = time.perf_counter()
        resumed = decide_synset(
            matrix, rule=rule, seed_rows=np.arange(50), init_posterior=stored,
            resume=decision.mixture, choose_model=False,
        )  # fmt: skip
        resumed_timings.append(time.perf_counter() - started)
    print(
        f"decide_synset resumed from the last fit: median "
        f"{statistics.median(resumed_timings):.3f} s, max {max(resumed_timings):.3f} s; "
        f"{int(np.count_nonzero(resumed.codes != decision.codes))} decisions differ, posteriors "
        f"within {np.abs(resumed.posterior - decision.posterior).max():.1e}"
    )
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
    if args.db:
        script = Path(__file__).resolve().parent / "recompute_db.py"
        subprocess.run([sys.executable, str(script)], check=True)


if __name__ == "__main__":
    main()
