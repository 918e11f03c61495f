"""Maths of the precision audit (Deng et al. 2009 §2 "Accuracy", the 99.7% measurement): Wilson
intervals, synsets sampled at every tree depth, reproducible samples of accepted images, precision.

Samples are "bottom-k by hash": each candidate gets a pseudo-random rank from (seed, id) and the k
lowest ranks are drawn. That is a uniform sample without replacement which ignores input order,
needs memory for k ids only, and keeps an image in the sample when more images are accepted later.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from scipy.stats import norm

# Deng et al. 2009 §2 "Accuracy": 80 synsets were sampled at each tree depth and re-checked.
SYNSETS_PER_DEPTH = 80

ItemId = TypeVar("ItemId", bound=Hashable)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927).

    Unlike the normal (Wald) interval it stays inside [0, 1] and does not collapse to a point at
    100% — which matters here, since audited precision is close to 1. ``n == 0`` gives (0, 1).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 ≤ successes ≤ n, got successes={successes}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if n == 0:
        return (0.0, 1.0)
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # Clamp away float dust so 0/n starts exactly at 0 and n/n ends exactly at 1.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def _rank(seed: int | str, value: Hashable) -> int:
    # blake2b, not hash(): Python's str hash changes per process (PYTHONHASHSEED).
    digest = hashlib.blake2b(f"{seed}\x1f{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def sample_items(item_ids: Iterable[ItemId], k: int, seed: int | str) -> list[ItemId]:
    """Draw ``k`` ids uniformly without replacement, reproducibly from ``seed``.

    Streams ``item_ids`` (a queryset's ``values_list(..., flat=True).iterator()`` works) and keeps
    k ids in memory. The result comes in rank order; ids must be unique and have a stable ``str``.
    """
    if k < 0:
        raise ValueError(f"k must be ≥ 0, got {k}")
    return [item for _, item in heapq.nsmallest(k, ((_rank(seed, i), i) for i in item_ids))]


def stratified_sample(
    synsets_by_depth: Mapping[int, Iterable[str]],
    per_depth: int = SYNSETS_PER_DEPTH,
    seed: int | str = 0,
) -> list[str]:
    """Sample up to ``per_depth`` synsets at every tree depth, as the paper's audit did.

    Depths with fewer synsets contribute them all. Each depth draws with its own stream
    (seed, depth), so adding synsets at one depth leaves the other depths' samples unchanged.
    Returns the wnids ordered by depth, then by wnid.
    """
    if per_depth < 0:
        raise ValueError(f"per_depth must be ≥ 0, got {per_depth}")
    sample: list[str] = []
    for depth in sorted(synsets_by_depth):
        drawn = sample_items(set(synsets_by_depth[depth]), per_depth, f"{seed}/depth={depth}")
        sample.extend(sorted(drawn))
    return sample


def group_by_depth(depth_by_wnid: Mapping[str, int]) -> dict[int, list[str]]:
    """Invert {wnid: depth} into the {depth: [wnid, …]} that :func:`stratified_sample` takes."""
    groups: dict[int, list[str]] = defaultdict(list)
    for wnid, depth in depth_by_wnid.items():
        groups[depth].append(wnid)
    return dict(groups)


@dataclass(frozen=True, slots=True)
class PrecisionEstimate:
    """Share of audited images that reviewers confirmed, with its Wilson interval."""

    correct: int
    n: int
    precision: float | None
    low: float
    high: float

    @classmethod
    def of(cls, correct: int, n: int, confidence: float = 0.95) -> PrecisionEstimate:
        low, high = wilson_interval(correct, n, confidence)
        return cls(correct, n, correct / n if n else None, low, high)


@dataclass(frozen=True, slots=True)
class AuditReport:
    per_synset: dict[str, PrecisionEstimate]
    overall: PrecisionEstimate


def audit_precision(reviews: Iterable[tuple[str, bool]], confidence: float = 0.95) -> AuditReport:
    """Precision per synset and overall from reviewer verdicts ``(wnid, image_is_correct)``.

    Overall is the micro average (pooled images), as the paper reports one precision across the
    sampled synsets; with equal samples per synset it equals the mean of per-synset precisions.
    """
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for wnid, is_correct in reviews:
        cell = counts[wnid]
        cell[0] += bool(is_correct)
        cell[1] += 1
    per_synset = {
        wnid: PrecisionEstimate.of(correct, n, confidence)
        for wnid, (correct, n) in sorted(counts.items())
    }
    total_correct = sum(c for c, _ in counts.values())
    total_n = sum(n for _, n in counts.values())
    return AuditReport(per_synset, PrecisionEstimate.of(total_correct, total_n, confidence))
