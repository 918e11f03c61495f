"""Random choices that belong to an image, not to a position: the calibration's vote orders,
reference subset and bootstrap weights are drawn from a hash of the image's (and the vote's
worker's) own key.

A stream of random numbers handed out by position ties every image to every other: one new vote
on one reference image shifts the stream for all the votes after it, so the whole calibration
was redrawn after each HIT, every posterior of the synset moved by a little, and a recompute that
should have touched a few dozen images rewrote thousands. With draws keyed on the image, a HIT
changes the calibration only through the images it voted on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
# Poisson(1) cumulative probabilities: k copies of an image in a bootstrap replicate.
_POISSON_ONE_CDF = np.cumsum(np.exp(-1.0) / np.cumprod(np.r_[1.0, np.arange(1.0, 20.0)]))


def keys(values: Sequence[Hashable]) -> np.ndarray:
    """A stable 64-bit key per value, whatever the other values are: integers are their own
    key, anything else hashes its ``repr`` (never Python's ``hash``, which changes from one
    process to the next)."""
    array = np.asarray(values) if len(values) else np.zeros(0, np.int64)
    if array.ndim == 1 and array.dtype.kind in "iu":
        return array.astype(np.uint64)
    return np.fromiter((_key(value) for value in values), np.uint64, count=len(values))


def _key(value: Hashable) -> int:
    if isinstance(value, int | np.integer):
        return int(value) & 0xFFFF_FFFF_FFFF_FFFF
    return int.from_bytes(hashlib.blake2b(repr(value).encode(), digest_size=8).digest(), "big")


def _splitmix(x: np.ndarray) -> np.ndarray:
    # SplitMix64's finaliser: every input bit reaches every output bit.
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX_1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX_2
    return x ^ (x >> np.uint64(31))


def uniform(*parts: np.ndarray | int) -> np.ndarray:
    """A number in [0, 1) for each combination of the key arrays (broadcast), the same whenever
    the same keys come again."""
    with np.errstate(over="ignore"):
        state = np.zeros((), np.uint64)
        for part in parts:
            state = _splitmix(state * _GOLDEN + np.asarray(part).astype(np.uint64))
    return (state >> np.uint64(11)).astype(np.float64) * 2.0**-53


def poisson_one(u: np.ndarray) -> np.ndarray:
    """Copies of an image in a Poisson bootstrap replicate, from a uniform number: each image
    appears Poisson(1) times, independently, so adding an image leaves the others' weights."""
    return np.searchsorted(_POISSON_ONE_CDF, u, side="right")
