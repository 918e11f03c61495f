"""Near-duplicate lookup over 64-bit perceptual hashes, within a synset and across all synsets.

ImageNet removed duplicates before counting its 10,000+ candidates per synset (Deng et al. 2009
§3.1). A lookup asks "which stored hashes lie within r bits of this one?". Small sets answer it
with one vectorised XOR + popcount pass; large ones with multi-index hashing (Norouzi, Punjani and
Fleet, "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012): the 64 bits are cut
into m = r + 1 disjoint substrings, and by the pigeonhole principle two hashes within r bits agree
exactly on at least one substring. Each substring has an exact-match bucket table, so a lookup
reads m buckets (about n / 2^13 entries each) and verifies only those candidates by popcount,
instead of touching all n hashes.
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
    "substrings",
]

# Measured on the 700 ImageNet samples: a photo re-encoded at JPEG quality 50 and halved stays
# within 2 bits of the original, while distinct photos are never closer than 12 (mean 31). pHash
# distances are even (each hash has exactly 32 bits above the median), so 4 is one step of slack.
DEFAULT_MAX_DISTANCE = 4

_UINT64_MASK = (1 << 64) - 1
_HAS_BITWISE_COUNT = hasattr(np, "bitwise_count")  # numpy >= 2.0
_POPCOUNT_16 = np.array([bin(i).count("1") for i in range(1 << 16)], dtype=np.uint8)
# Below this many hashes a scan is as fast as reading buckets, and no tables are kept.
MIN_INDEXED = 4096
# Substrings shorter than this make buckets too coarse to beat a scan (radius > 15).
_MIN_SUBSTRING_BITS = 4
# From this many hashes on, longer substrings searched within one bit (see _layout).
WIDE_FROM = 1 << 21
_DEAD = object()
# nearest_many scans up to this many stored hashes (a synset's 10,000 candidates) and looks
# larger indexes up query by query through their tables; a scan step holds at most this many
# distances (1 byte each).
SCAN_MANY_LIMIT = 20_000
_SCAN_MANY_CELLS = 4_000_000


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


def substrings(radius: int, m: int | None = None) -> list[tuple[int, int]]:
    """(shift, bits) of the m = radius + 1 disjoint substrings covering 64 bits, as even as
    possible (radius 4: four of 13 bits and one of 12). At least four: substrings stay within 16
    bits (small bucket tables), and more substrings than radius + 1 keep the pigeonhole true."""
    m = m or max(radius + 1, 4)
    widths = [64 // m + (1 if i < 64 % m else 0) for i in range(m)]
    shifts = np.cumsum([0, *widths[:-1]]).tolist()
    return list(zip(shifts, widths, strict=True))


class _Tables:
    """Bucket tables per substring over slots [0, n): for substring j, the slots whose substring
    value is v are ``order[j][offsets[j][v]:offsets[j][v + 1]]`` (CSR layout). With
    ``sub_radius`` 1 a lookup also reads the buckets one bit away from the query's value."""

    def __init__(self, hashes: np.ndarray, parts: list[tuple[int, int]], sub_radius: int) -> None:
        self.size = len(hashes)
        self.parts = parts
        self.sub_radius = sub_radius
        self.order: list[np.ndarray] = []
        self.offsets: list[np.ndarray] = []
        self._flips: list[np.ndarray] = []
        for shift, bits in parts:
            dtype = np.uint16 if bits <= 16 else np.uint32
            values = ((hashes >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(dtype)
            # Stable: slots stay ascending inside a bucket (a radix sort for 16-bit keys).
            self.order.append(np.argsort(values, kind="stable").astype(np.uint32))
            counts = np.bincount(values, minlength=1 << bits)
            offsets_dtype = np.uint32 if self.size < 2**32 else np.int64
            self.offsets.append(np.concatenate(([0], np.cumsum(counts))).astype(offsets_dtype))
            flips = [0] + ([1 << i for i in range(bits)] if sub_radius else [])
            self._flips.append(np.array(flips, dtype=np.int64))

    def candidates(self, query: int) -> np.ndarray:
        chunks = []
        for (shift, bits), order, offsets, flips in zip(
            self.parts, self.order, self.offsets, self._flips, strict=True
        ):
            value = (query >> shift) & ((1 << bits) - 1)
            if self.sub_radius == 0:
                start, stop = offsets[value], offsets[value + 1]
                if stop > start:
                    chunks.append(order[start:stop])
                continue
            probes = value ^ flips
            starts, stops = offsets[probes], offsets[probes + 1]
            for i in np.flatnonzero(stops > starts).tolist():
                chunks.append(order[starts[i] : stops[i]])
        if not chunks:
            return np.empty(0, dtype=np.uint32)
        return np.concatenate(chunks)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.order) + sum(a.nbytes for a in self.offsets)


def _layout(radius: int, size: int) -> tuple[list[tuple[int, int]], int]:
    """Substrings and the radius searched in each. Up to ``WIDE_FROM`` hashes: m = radius + 1
    substrings of ~13 bits, exact buckets (a bucket holds n / 2^13 hashes: linear, with a small
    constant). From there on, three substrings of ~21 bits searched within one bit: pigeonhole
    still holds (three substrings all at two bits or more would be six bits apart), and buckets
    of n / 2^21 keep the candidates few as n grows — the substring length follows log2(n), as
    Norouzi et al. advise."""
    if size >= WIDE_FROM and radius // 3 <= 1:
        return substrings(radius, m=3), 1
    parts = substrings(radius) if radius >= 0 else []
    if parts and min(b for _, b in parts) >= _MIN_SUBSTRING_BITS:
        return parts, 0
    return [], 0


class HashIndex:
    """Append-mostly store of (key, hash) answering "which stored hashes are within d bits?".

    Keys are candidate ids (any hashable). Slots are append-only (a removed or replaced key
    leaves a dead slot), so the slot order is the insertion order that breaks distance ties.
    Once the index holds ``MIN_INDEXED`` hashes it keeps multi-index tables for ``radius``; hashes
    added since the tables were built form a tail that is scanned, and the tables are rebuilt
    when the tail passes 1/8 of them (amortised O(1) per insert). Lookups farther than ``radius``
    fall back to the scan, so every distance stays exact.

    ``int_keys=True`` keeps keys in a numpy array instead of Python objects (about 40 bytes per
    hash in all at 10 M): the layout of the process-wide cross-synset index.
    Not thread-safe for concurrent writes; build one per worker or guard it.
    """

    def __init__(
        self, capacity: int = 1024, *, radius: int = DEFAULT_MAX_DISTANCE, int_keys: bool = False
    ) -> None:
        capacity = max(capacity, 16)
        self._hashes = np.empty(capacity, dtype=np.uint64)
        self._alive = np.zeros(capacity, dtype=bool)
        self._int_keys = int_keys
        self._keys: list | np.ndarray = np.empty(capacity, dtype=np.int64) if int_keys else []
        self._count = 0  # slots used, dead ones included
        self._live = 0
        self._dead = 0
        self._positions: dict[Hashable, int] | None = None if int_keys else {}
        self.radius = radius
        self._parts, _ = _layout(radius, 0)  # empty: no index can be built for this radius
        self._tables: _Tables | None = None

    def __len__(self) -> int:
        return self._live

    def __contains__(self, key: object) -> bool:
        return key in self._position_map()

    @classmethod
    def from_pairs(
        cls,
        keys: Sequence[Hashable] | np.ndarray,
        hashes: Iterable[int] | np.ndarray,
        *,
        radius: int = DEFAULT_MAX_DISTANCE,
    ) -> HashIndex:
        """Bulk load. A numpy integer array of keys gives the compact ``int_keys`` layout; keys
        must then be unique (candidate primary keys are)."""
        if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
            index = cls(capacity=len(keys), radius=radius, int_keys=True)
            values = _as_uint64_array(hashes)
            if len(values) != len(keys):
                raise ValueError(f"{len(keys)} keys but {len(values)} hashes")
            index._append(keys.astype(np.int64, copy=False), values)
            return index
        index = cls(capacity=len(keys), radius=radius)
        index.add_many(keys, hashes)
        return index

    # --- storage ------------------------------------------------------------------------------

    def _position_map(self) -> dict[Hashable, int]:
        if self._positions is None:
            alive = np.flatnonzero(self._alive[: self._count])
            self._positions = dict(
                zip(self._keys[alive].tolist(), alive.tolist(), strict=True)  # type: ignore[index]
            )
        return self._positions

    def _reserve(self, extra: int) -> None:
        needed = self._count + extra
        if needed <= len(self._hashes):
            return
        size = max(needed, 2 * len(self._hashes))
        for name in ("_hashes", "_alive") + (("_keys",) if self._int_keys else ()):
            old = getattr(self, name)
            grown = np.zeros(size, dtype=old.dtype)
            grown[: self._count] = old[: self._count]
            setattr(self, name, grown)

    def _append(self, keys: Sequence[Hashable] | np.ndarray, values: np.ndarray) -> None:
        n = len(values)
        start = self._count
        self._reserve(n)
        self._hashes[start : start + n] = values
        self._alive[start : start + n] = True
        if self._int_keys:
            self._keys[start : start + n] = keys  # type: ignore[index]
        else:
            self._keys.extend(keys)  # type: ignore[union-attr]
        if self._positions is not None:
            self._positions.update(zip(list(keys), range(start, start + n), strict=True))
        self._count += n
        self._live += n
        self._maybe_rebuild()

    def _kill(self, position: int) -> None:
        self._alive[position] = False
        if not self._int_keys:
            self._keys[position] = _DEAD  # type: ignore[index]
        self._live -= 1
        self._dead += 1

    def _maybe_rebuild(self) -> None:
        if not self._parts or self._live < MIN_INDEXED:
            return
        indexed = self._tables.size if self._tables else 0
        tail = self._count - indexed
        if self._tables is None or tail > max(MIN_INDEXED, indexed // 8):
            self.rebuild()

    def rebuild(self) -> None:
        """Compact dead slots away and rebuild the bucket tables over every stored hash."""
        if self._dead:
            alive = np.flatnonzero(self._alive[: self._count])
            self._hashes[: len(alive)] = self._hashes[alive]
            if self._int_keys:
                self._keys[: len(alive)] = self._keys[alive]  # type: ignore[index]
            else:
                self._keys = [self._keys[i] for i in alive.tolist()]  # type: ignore[index]
            self._alive[: len(alive)] = True
            self._alive[len(alive) : self._count] = False
            self._count, self._dead = len(alive), 0
            self._positions = None
            if not self._int_keys:
                self._position_map()
        parts, sub_radius = _layout(self.radius, self._count)
        self._tables = (
            _Tables(self._hashes[: self._count], parts, sub_radius) if parts else None
        )

    def add(self, key: Hashable, phash: int, *, new: bool = False) -> None:
        """Store `phash` under `key`; re-adding a key replaces its hash (the key then counts as
        newly added). ``new=True`` promises the key is not stored yet (a fresh primary key),
        which spares an ``int_keys`` index its key map."""
        value = np.array([int(phash) & _UINT64_MASK], dtype=np.uint64)
        if not new:
            position = self._position_map().get(key)
            if position is not None:
                self._positions.pop(key)  # type: ignore[union-attr]
                self._kill(position)
        self._append([key], value)

    def add_many(self, keys: Sequence[Hashable], hashes: Iterable[int] | np.ndarray) -> None:
        values = _as_uint64_array(hashes)
        if len(values) != len(keys):
            raise ValueError(f"{len(keys)} keys but {len(values)} hashes")
        key_list = list(keys)
        positions = self._position_map()
        if len(set(key_list)) != len(key_list) or not positions.keys().isdisjoint(key_list):
            for key, value in zip(key_list, values.tolist(), strict=True):
                self.add(key, value)
            return
        # Fast path for bulk loads from the database: one array copy and one dict update
        # instead of a million single inserts.
        self._append(key_list, values)

    def add_new_many(self, keys: Sequence[Hashable], hashes: Iterable[int] | np.ndarray) -> None:
        """``add(key, phash, new=True)`` for each pair in order, in one append: the keys are
        promised not to be stored yet (fresh primary keys)."""
        values = _as_uint64_array(hashes)
        if len(values) != len(keys):
            raise ValueError(f"{len(keys)} keys but {len(values)} hashes")
        if len(values):
            self._append(list(keys), values)

    def remove(self, key: Hashable) -> bool:
        """Forget `key` (candidate deleted)."""
        positions = self._position_map()
        position = positions.pop(key, None)
        if position is None:
            return False
        self._kill(position)
        if self._dead > max(MIN_INDEXED, self._count // 4):
            self.rebuild()
        return True

    # --- lookups ------------------------------------------------------------------------------

    def distances(self, phash: int) -> np.ndarray:
        """Hamming distance from `phash` to every stored hash, in insertion order (uint8)."""
        alive = np.flatnonzero(self._alive[: self._count])
        stored = self._hashes[alive]
        return _popcount(np.bitwise_xor(stored, np.uint64(int(phash) & _UINT64_MASK)))

    def _candidate_slots(self, query: int, max_distance: int) -> np.ndarray | None:
        """Slots that may lie within `max_distance` (a slot may repeat, when it matches on
        several substrings), or None to scan everything."""
        if self._tables is None or max_distance > self.radius:
            return None
        from_tables = self._tables.candidates(query)
        if self._count == self._tables.size:
            return from_tables
        tail = np.arange(self._tables.size, self._count, dtype=np.uint32)
        return np.concatenate((from_tables, tail))

    def nearest(
        self, phash: int, max_distance: int = DEFAULT_MAX_DISTANCE, *, limit: int | None = None
    ) -> list[tuple[Hashable, int]]:
        """Stored (key, distance) pairs within `max_distance` bits, closest first (ties in
        insertion order: the oldest candidate wins)."""
        if not self._live or max_distance < 0:
            return []
        query = int(phash) & _UINT64_MASK
        slots = self._candidate_slots(query, max_distance)
        if slots is None:
            slots = np.arange(self._count)
            repeats = False
        else:
            repeats = True
        found = _popcount(np.bitwise_xor(self._hashes[slots], np.uint64(query)))
        hit = np.flatnonzero(found <= max_distance)
        if hit.size == 0:
            return []
        slots, found = slots[hit], found[hit]
        live = self._alive[slots]
        slots, found = slots[live], found[live]
        if repeats and slots.size > 1:
            # Only the few hits are deduplicated (and put in slot order), not every candidate.
            slots, first = np.unique(slots, return_index=True)
            found = found[first]
        if slots.size == 0:
            return []
        order = np.argsort(found, kind="stable")
        if limit is not None:
            order = order[:limit]
        keys = self._keys
        return [
            (keys[s] if not self._int_keys else int(keys[s]), int(d))  # type: ignore[index]
            for s, d in zip(slots[order].tolist(), found[order].tolist(), strict=True)
        ]

    def nearest_many(
        self, phashes: Sequence[int], max_distance: int = DEFAULT_MAX_DISTANCE
    ) -> list[list[tuple[Hashable, int]]]:
        """``[self.nearest(p, max_distance) for p in phashes]``, in one XOR + popcount pass over
        every slot for all queries while the index is small enough for a scan to be cheap (a
        collection job asks for a whole batch at once: one numpy pass instead of a dozen small
        numpy calls per photo, each a point where a busy interpreter lock is handed over)."""
        if not phashes:
            return []
        if not self._live or max_distance < 0:
            return [[] for _ in phashes]
        tables_answer = self._tables is not None and max_distance <= self.radius
        if self._count > SCAN_MANY_LIMIT and tables_answer:
            return [self.nearest(p, max_distance) for p in phashes]
        queries = _as_uint64_array(phashes)
        stored = self._hashes[: self._count]
        dead = ~self._alive[: self._count]
        keys = self._keys
        step = max(1, _SCAN_MANY_CELLS // self._count)
        results: list[list[tuple[Hashable, int]]] = []
        for start in range(0, len(queries), step):
            found = _popcount(np.bitwise_xor(queries[start : start + step, None], stored))
            found[:, dead] = 255
            rows, slots = np.nonzero(found <= max_distance)
            distances = found[rows, slots]
            # Closest first, ties in slot (insertion) order, as nearest() answers.
            order = np.lexsort((slots, distances, rows))
            block: list[list[tuple[Hashable, int]]] = [[] for _ in range(len(found))]
            for row, slot, distance in zip(
                rows[order].tolist(), slots[order].tolist(), distances[order].tolist(),
                strict=True,
            ):  # fmt: skip
                key = int(keys[slot]) if self._int_keys else keys[slot]  # type: ignore[index]
                block[row].append((key, distance))
            results.extend(block)
        return results

    def contains_near(self, phash: int, max_distance: int = DEFAULT_MAX_DISTANCE) -> bool:
        return bool(self.nearest(phash, max_distance, limit=1))

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (hashes, keys, liveness, tables); Python keys excluded."""
        size = self._hashes.nbytes + self._alive.nbytes
        if self._int_keys:
            size += self._keys.nbytes  # type: ignore[union-attr]
        return size + (self._tables.nbytes if self._tables else 0)


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
