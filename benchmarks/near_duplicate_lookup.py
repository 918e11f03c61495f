"""Benchmark: look one new pHash up among 1,000,000 stored ones (candidates/dedupe.py).

Run: .venv/bin/python benchmarks/near_duplicate_lookup.py [--size 1000000] [--lookups 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from candidates.dedupe import DEFAULT_MAX_DISTANCE, HashIndex, find_batch_duplicates  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--max-distance", type=int, default=DEFAULT_MAX_DISTANCE)
    args = parser.parse_args()

    rng = np.random.default_rng(2009)
    # Signed int64 as PostgreSQL returns bigint columns; candidate ids as keys.
    stored = rng.integers(-(2**63), 2**63 - 1, size=args.size, dtype=np.int64)
    keys = np.arange(1, args.size + 1).tolist()

    started = time.perf_counter()
    index = HashIndex.from_pairs(keys, stored)
    build = time.perf_counter() - started

    # Half the queries are near copies of stored hashes (2 bits flipped), half are new images.
    queries: list[int] = []
    for i in range(args.lookups):
        if i % 2 == 0:
            base = int(stored[rng.integers(0, args.size)]) & (2**64 - 1)
            queries.append(
                base ^ (1 << int(rng.integers(0, 32))) ^ (1 << int(rng.integers(32, 64)))
            )
        else:
            queries.append(int(rng.integers(0, 2**63)))
    index.nearest(queries[0], args.max_distance)  # warm-up

    timings: list[float] = []
    found = 0
    for query in queries:
        started = time.perf_counter()
        matches = index.nearest(query, args.max_distance)
        timings.append(time.perf_counter() - started)
        found += bool(matches)

    batch = [int(h) for h in stored[:1000]]
    started = time.perf_counter()
    find_batch_duplicates(list(range(1000)), batch, existing=None)
    batch_time = time.perf_counter() - started

    print(f"stored hashes      : {args.size:,}")
    print(f"index build        : {build * 1e3:.1f} ms (from int64 array + {args.size:,} keys)")
    print(
        f"lookups            : {args.lookups} (max distance {args.max_distance}), "
        f"{found} with a match"
    )
    print(f"lookup median      : {statistics.median(timings) * 1e3:.3f} ms")
    print(f"lookup p99         : {percentile(timings, 99) * 1e3:.3f} ms")
    print(f"lookup max         : {max(timings) * 1e3:.3f} ms")
    print(f"batch of 1,000 self-dedupe: {batch_time * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
