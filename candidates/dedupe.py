"""Near-duplicate lookup over 64-bit perceptual hashes, within a synset and across all synsets.

ImageNet removed duplicates before counting its 10,000+ candidates per synset (Deng et al. 2009
§3.1); a vectorised Hamming scan over one contiguous uint64 array checks a new hash against a
million stored ones in about a millisecond, so no pairwise (quadratic) comparison is ever needed.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "BatchDuplicate",
    "HashIndex",
    "find_batch_duplicates",
    "hamming",
]

# Measured on the 700 ImageNet samples: a photo re-encoded at JPEG quality 50 and halved stays
# within 2 bits of the original, while distinct photos are never closer than 12 (mean 31). pHash
# distances are even (each hash has exactly 32 bits above the median), so 4 is one step of slack.
DEFAULT_MAX_DISTANCE = 4

_UINT64_MASK = (1 << 64) - 1
_HAS_BITWISE_COUNT = hasattr(np, "bitwise_count")  # numpy >= 2.0
_POPCOUNT_16 = np.array([bin(i).count("1") for i in range(1 << 16)], dtype=np.uint8)


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes, signed or unsigned."""
    return ((a ^ b) & _UINT64_MASK).bit_count()


def _popcount(values: np.ndarray) -> np.ndarray:
    if _HAS_BITWISE_COUNT:
        return np.bitwise_count(values)
    # numpy 1.x fallback: four 16-bit table lookups per hash.
    halves = values.view(np.uint16).reshape(-1, 4)
    return _POPCOUNT_16[halves].sum(axis=1, dtype=np.uint8)


def _as_uint64_array(hashes: Iterable[int] | np.ndarray) -> np.ndarray:
    """Accept signed (PostgreSQL bigint) or unsigned hashes; store the same 64 bits unsigned."""
    if isinstance(hashes, np.ndarray):
        if hashes.dtype == np.uint64:
            return np.ascontiguousarray(hashes)
        if hashes.dtype == np.int64:
            return np.ascontiguousarray(hashes).view(np.uint64)
        hashes = hashes.tolist()
    return np.fromiter((int(h) & _UINT64_MASK for h in hashes), dtype=np.uint64)


class HashIndex:
    """Append-mostly store of (key, hash) answering "which stored hashes are within d bits?".

    Keys are candidate ids (any hashable). Each lookup is one linear, vectorised pass: O(n) work
    but ~1 ns per stored hash, and no index to keep balanced when candidates arrive or leave.
    Not thread-safe for concurrent writes; build one per worker or guard it.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._hashes = np.empty(max(capacity, 16), dtype=np.uint64)
        self._keys: list[Hashable] = []
        self._positions: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._positions

    @classmethod
    def from_pairs(cls, keys: Sequence[Hashable], hashes: Iterable[int] | np.ndarray) -> HashIndex:
        index = cls(capacity=len(keys))
        index.add_many(keys, hashes)
        return index

    def _reserve(self, extra: int) -> None:
        needed = len(self._keys) + extra
        if needed > len(self._hashes):
            grown = np.empty(max(needed, 2 * len(self._hashes)), dtype=np.uint64)
            grown[: len(self._keys)] = self._hashes[: len(self._keys)]
            self._hashes = grown

    def add(self, key: Hashable, phash: int) -> None:
        """Store `phash` under `key`; re-adding a key replaces its hash."""
        value = np.uint64(int(phash) & _UINT64_MASK)
        position = self._positions.get(key)
        if position is not None:
            self._hashes[position] = value
            return
        self._reserve(1)
        self._hashes[len(self._keys)] = value
        self._positions[key] = len(self._keys)
        self._keys.append(key)

    def add_many(self, keys: Sequence[Hashable], hashes: Iterable[int] | np.ndarray) -> None:
        values = _as_uint64_array(hashes)
        if len(values) != len(keys):
            raise ValueError(f"{len(keys)} keys but {len(values)} hashes")
        key_list = list(keys)
        if len(set(key_list)) != len(key_list) or not self._positions.keys().isdisjoint(key_list):
            for key, value in zip(key_list, values.tolist(), strict=True):
                self.add(key, value)
            return
        # Fast path for bulk loads from the database: one array copy and one dict update
        # instead of a million single inserts.
        start = len(self._keys)
        self._reserve(len(key_list))
        self._hashes[start : start + len(key_list)] = values
        self._keys.extend(key_list)
        self._positions.update(zip(key_list, range(start, start + len(key_list)), strict=True))

    def remove(self, key: Hashable) -> bool:
        """Forget `key` (candidate deleted); O(1) by moving the last entry into its slot."""
        position = self._positions.pop(key, None)
        if position is None:
            return False
        last = len(self._keys) - 1
        if position != last:
            moved = self._keys[last]
            self._keys[position] = moved
            self._hashes[position] = self._hashes[last]
            self._positions[moved] = position
        self._keys.pop()
        return True

    def distances(self, phash: int) -> np.ndarray:
        """Hamming distance from `phash` to every stored hash, in storage order (uint8)."""
        stored = self._hashes[: len(self._keys)]
        return _popcount(np.bitwise_xor(stored, np.uint64(int(phash) & _UINT64_MASK)))

    def nearest(
        self, phash: int, max_distance: int = DEFAULT_MAX_DISTANCE, *, limit: int | None = None
    ) -> list[tuple[Hashable, int]]:
        """Stored (key, distance) pairs within `max_distance` bits, closest first."""
        if not self._keys:
            return []
        found = self.distances(phash)
        hits = np.flatnonzero(found <= max_distance)
        if hits.size == 0:
            return []
        # Stable sort keeps insertion order among equal distances: the oldest candidate wins.
        hits = hits[np.argsort(found[hits], kind="stable")]
        if limit is not None:
            hits = hits[:limit]
        return [(self._keys[i], int(found[i])) for i in hits.tolist()]

    def contains_near(self, phash: int, max_distance: int = DEFAULT_MAX_DISTANCE) -> bool:
        if not self._keys:
            return False
        return bool((self.distances(phash) <= max_distance).any())


@dataclass(frozen=True)
class BatchDuplicate:
    key: Hashable  # the later item, to drop or mark as a duplicate
    duplicate_of: Hashable  # the kept item: earlier in the batch or already stored
    distance: int
    in_existing: bool  # True when duplicate_of comes from the existing index


def find_batch_duplicates(
    keys: Sequence[Hashable],
    hashes: Sequence[int] | np.ndarray,
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    existing: HashIndex | None = None,
) -> list[BatchDuplicate]:
    """Duplicates inside a freshly downloaded batch, and against `existing` if given.

    The first occurrence in batch order is kept; every later item within `max_distance` of a
    kept item (or of a stored one) is reported once, pointing at its closest kept match. Later
    items are compared only with kept ones, so chains of small edits cannot drift arbitrarily.
    """
    values = _as_uint64_array(hashes)
    if len(values) != len(keys):
        raise ValueError(f"{len(keys)} keys but {len(values)} hashes")
    kept = HashIndex(capacity=len(keys))
    duplicates: list[BatchDuplicate] = []
    for key, value in zip(keys, values.tolist(), strict=True):
        match: tuple[Hashable, int, bool] | None = None
        if existing is not None:
            near = existing.nearest(value, max_distance, limit=1)
            if near:
                match = (near[0][0], near[0][1], True)
        near_in_batch = kept.nearest(value, max_distance, limit=1)
        if near_in_batch and (match is None or near_in_batch[0][1] < match[1]):
            match = (near_in_batch[0][0], near_in_batch[0][1], False)
        if match is None:
            kept.add(key, value)
        else:
            duplicates.append(
                BatchDuplicate(
                    key=key, duplicate_of=match[0], distance=match[1], in_existing=match[2]
                )
            )
    return duplicates
