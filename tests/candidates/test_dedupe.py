"""Tests for candidates/dedupe.py: the vectorised Hamming index and batch duplicate finding."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from candidates import dedupe
from candidates.dedupe import (
    DEFAULT_MAX_DISTANCE,
    HashIndex,
    find_batch_duplicates,
    hamming,
)
from candidates.images import phash_to_signed, process_image
from tests.candidates.conftest import jpeg_bytes


def random_hashes(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**64, size=count, dtype=np.uint64)


def flip_bits(value: int, *bits: int) -> int:
    for bit in bits:
        value ^= 1 << int(bit)
    return value


def test_hamming_counts_differing_bits_for_signed_and_unsigned() -> None:
    assert hamming(0, 0) == 0
    assert hamming(0, 2**64 - 1) == 64
    assert hamming(0b1011, 0b0001) == 2
    value = 0xF0F0_0000_0000_0001
    assert hamming(value, phash_to_signed(value)) == 0
    assert hamming(phash_to_signed(value), 0) == 9


def test_nearest_returns_matches_within_distance_closest_first() -> None:
    base = 0x0123_4567_89AB_CDEF
    index = HashIndex()
    index.add("far", flip_bits(base, *range(20)))
    index.add("three", flip_bits(base, 1, 7, 60))
    index.add("exact", base)
    index.add("one", flip_bits(base, 63))
    assert index.nearest(base, 3) == [("exact", 0), ("one", 1), ("three", 3)]
    assert index.nearest(base, 0) == [("exact", 0)]
    assert index.nearest(base, 3, limit=1) == [("exact", 0)]
    assert index.contains_near(flip_bits(base, 5, 6), 2)
    assert not index.contains_near(flip_bits(base, *range(10)), 3)


def test_equal_distances_keep_insertion_order() -> None:
    index = HashIndex()
    for key in ("first", "second", "third"):
        index.add(key, 42)
    assert [key for key, _ in index.nearest(42, 0)] == ["first", "second", "third"]


def test_empty_index_finds_nothing() -> None:
    index = HashIndex()
    assert index.nearest(123, 64) == []
    assert not index.contains_near(123, 64)
    assert len(index) == 0


def test_signed_bigint_hashes_from_postgres_match_unsigned_queries() -> None:
    unsigned = [2**63 + 5, 2**64 - 1, 17]
    signed = np.array([phash_to_signed(v) for v in unsigned], dtype=np.int64)
    index = HashIndex.from_pairs([1, 2, 3], signed)
    assert index.nearest(2**64 - 1, 0) == [(2, 0)]
    assert index.nearest(phash_to_signed(2**63 + 5), 0) == [(1, 0)]
    from_python_ints = HashIndex.from_pairs([1, 2, 3], [int(v) for v in signed])
    assert from_python_ints.nearest(17, 0) == [(3, 0)]


def test_add_replaces_and_remove_forgets() -> None:
    index = HashIndex(capacity=1)
    for key in range(100):  # grows past the initial capacity
        index.add(key, key * 1_000_003)
    index.add(5, 999)
    assert len(index) == 100
    assert index.nearest(999, 0) == [(5, 0)]
    assert index.remove(0)
    assert not index.remove(0)
    assert 0 not in index
    assert index.nearest(0, 0) == []
    # The entry moved into the freed slot is still found under its own key.
    assert index.nearest(99 * 1_000_003, 0) == [(99, 0)]
    assert len(index) == 99


def test_add_many_appends_and_merges_duplicate_keys() -> None:
    index = HashIndex.from_pairs(["a", "b"], [1, 2])
    index.add_many(["c", "d"], [3, 4])
    index.add_many(["a", "e"], [10, 11])  # "a" already stored: replaced, not duplicated
    assert len(index) == 5
    assert index.nearest(10, 0) == [("a", 0)]
    assert index.nearest(1, 0) == []
    with pytest.raises(ValueError, match="keys"):
        index.add_many(["x"], [1, 2])


def test_scan_agrees_with_brute_force() -> None:
    hashes = random_hashes(5000, seed=3)
    index = HashIndex.from_pairs(list(range(5000)), hashes)
    python_hashes = hashes.tolist()
    rng = np.random.default_rng(4)
    for query in rng.integers(0, 2**64, size=20, dtype=np.uint64).tolist():
        expected = sorted(
            ((key, hamming(query, h)) for key, h in enumerate(python_hashes)),
            key=lambda pair: (pair[1], pair[0]),
        )
        expected = [pair for pair in expected if pair[1] <= 24]
        assert index.nearest(query, 24) == expected


def test_numpy_one_fallback_popcount_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = random_hashes(1000, seed=5)
    fast = dedupe._popcount(hashes)
    monkeypatch.setattr(dedupe, "_HAS_BITWISE_COUNT", False)
    slow = dedupe._popcount(hashes)
    assert slow.tolist() == fast.tolist()
    assert slow.tolist() == [bin(v).count("1") for v in hashes.tolist()]


def brute_force(hashes: np.ndarray, alive: np.ndarray, query: int, max_distance: int) -> list:
    """The reference answer, a full scan: every live hash within reach, closest first, ties by
    slot (vectorised, but checked against Python's int.bit_count below)."""
    values = np.asarray(hashes, dtype=np.uint64)
    distances = np.bitwise_count(values ^ np.uint64(query))
    hits = np.flatnonzero((distances <= max_distance) & np.asarray(alive))
    pairs = sorted(((int(i), int(distances[i])) for i in hits), key=lambda p: (p[1], p[0]))
    assert all(hamming(query, int(values[i])) == d for i, d in pairs)
    return pairs


def edge_queries(hashes: list[int], rng: np.random.Generator, radius: int) -> list[int]:
    """Queries at exactly 0, 1, radius and radius + 1 bits from stored hashes, with the flipped
    bits packed into one substring or spread across all of them, plus unrelated hashes."""
    queries = []
    for _ in range(30):
        base = hashes[int(rng.integers(0, len(hashes)))]
        for distance in (0, 1, radius - 1, radius, radius + 1, radius + 2):
            spread = rng.choice(64, size=distance, replace=False).tolist()
            packed = list(range(13 - distance, 13)) if distance <= 13 else spread
            queries.append(flip_bits(base, *spread))
            queries.append(flip_bits(base, *packed))
    queries.extend(rng.integers(0, 2**64, size=20, dtype=np.uint64).tolist())
    return queries


def clustered_hashes(count: int, seed: int) -> list[int]:
    """Random hashes plus close relatives of a few of them (as re-encoded photos are), so that
    many queries have several neighbours at the edge distances."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, size=count, dtype=np.uint64).tolist()
    for i in range(0, count, 7):
        source = hashes[int(rng.integers(0, count))]
        hashes[i] = flip_bits(source, *rng.choice(64, size=int(rng.integers(0, 7)), replace=False))
    return hashes


@pytest.mark.parametrize(
    ("radius", "wide"), [(4, False), (2, False), (7, False), (4, True), (3, True), (5, True)]
)
def test_multi_index_returns_exactly_the_brute_force_neighbours(
    radius: int, wide: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wide: the layout of large indexes (three substrings searched within one bit), forced on
    # a small one so the brute force stays quick.
    monkeypatch.setattr(dedupe, "WIDE_FROM", 10_000 if wide else 10**12)
    hashes = clustered_hashes(30_000, seed=radius)
    index = HashIndex.from_pairs(list(range(len(hashes))), hashes, radius=radius)
    assert index._tables is not None  # the tables, not the scan, answer these lookups
    assert index._tables.sub_radius == int(wide)
    alive = np.ones(len(hashes), dtype=bool)
    values = np.array(hashes, dtype=np.uint64)
    rng = np.random.default_rng(10 + radius)
    for query in edge_queries(hashes, rng, radius):
        for max_distance in (0, radius - 1, radius):
            assert index.nearest(query, max_distance) == brute_force(
                values, alive, query, max_distance
            ), (hex(query), max_distance)
    # Farther than the tables' radius: the scan answers, still exact.
    query = hashes[123]
    assert index.nearest(query, radius + 6) == brute_force(values, alive, query, radius + 6)


def test_multi_index_stays_exact_through_adds_replacements_and_removals() -> None:
    rng = np.random.default_rng(21)
    hashes = clustered_hashes(13_000, seed=21)
    index = HashIndex.from_pairs(list(range(8_000)), hashes[:8_000])
    slots = list(range(8_000))  # key -> current slot in the reference lists
    ref_hashes, ref_alive = hashes[:8_000], [True] * 8_000
    tables_before = index._tables
    for key in range(8_000, 13_000):  # lands in the scanned tail, then triggers a rebuild
        index.add(key, hashes[key])
        slots.append(len(ref_hashes))
        ref_hashes.append(hashes[key])
        ref_alive.append(True)
    assert index._tables is not tables_before
    for key in rng.choice(13_000, size=600, replace=False).tolist():
        index.remove(key)
        ref_alive[slots[key]] = False
    for key in rng.choice(13_000, size=50, replace=False).tolist():  # replace: new slot
        value = flip_bits(hashes[0], int(rng.integers(0, 64)))
        index.add(key, value)
        ref_alive[slots[key]] = False
        slots[key] = len(ref_hashes)
        ref_hashes.append(value)
        ref_alive.append(True)
    key_of_slot = {slot: key for key, slot in enumerate(slots)}
    values, alive = np.array(ref_hashes, dtype=np.uint64), np.array(ref_alive)
    for query in edge_queries(hashes, rng, DEFAULT_MAX_DISTANCE):
        expected = [
            (key_of_slot[slot], d)
            for slot, d in brute_force(values, alive, query, DEFAULT_MAX_DISTANCE)
        ]
        assert index.nearest(query, DEFAULT_MAX_DISTANCE) == expected
    assert len(index) == sum(ref_alive)


def test_int_keys_layout_matches_the_list_layout_and_grows_without_a_key_map() -> None:
    hashes = random_hashes(20_000, seed=8)
    keys = np.arange(1_000_000, 1_020_000, dtype=np.int64)
    compact = HashIndex.from_pairs(keys, hashes.view(np.int64))
    listed = HashIndex.from_pairs(keys.tolist(), hashes)
    for i in range(200):  # fresh primary keys, as collection stores them
        compact.add(2_000_000 + i, int(hashes[i]) ^ 1, new=True)
        listed.add(2_000_000 + i, int(hashes[i]) ^ 1)
    assert compact._positions is None
    for query in hashes[:50].tolist():
        assert compact.nearest(query, 4) == listed.nearest(query, 4)
    assert compact.nearest(int(hashes[7]), 0) == [(1_000_007, 0)]
    assert isinstance(compact._keys, np.ndarray)  # no Python object per key
    assert compact.remove(1_000_007)
    assert compact.nearest(int(hashes[7]), 0) == []


def test_lookup_in_a_million_hashes_is_exact() -> None:
    hashes = random_hashes(1_000_000, seed=6)
    index = HashIndex.from_pairs(np.arange(1_000_000), hashes)
    target = flip_bits(int(hashes[765_432]), 3, 40)
    assert index.nearest(target, DEFAULT_MAX_DISTANCE) == [(765_432, 2)]


# --- batches ------------------------------------------------------------------------------------


def test_batch_with_same_hash_twice_reports_the_later_one() -> None:
    duplicates = find_batch_duplicates(["a", "b", "c"], [100, 0xFFFF_FFFF_0000_0000, 100])
    assert [(d.key, d.duplicate_of, d.distance, d.in_existing) for d in duplicates] == [
        ("c", "a", 0, False)
    ]


def test_batch_checks_against_existing_index_first() -> None:
    existing = HashIndex.from_pairs([900], [0xABCDEF])
    duplicates = find_batch_duplicates(
        ["new1", "new2"], [flip_bits(0xABCDEF, 1), 12345], existing=existing
    )
    assert [(d.key, d.duplicate_of, d.in_existing) for d in duplicates] == [("new1", 900, True)]


def test_batch_items_are_compared_only_with_kept_items() -> None:
    a = 0
    b = flip_bits(a, 0, 1, 2, 3)  # 4 from a: duplicate of a
    c = flip_bits(b, 10, 11, 12, 13)  # 4 from b but 8 from a: b was dropped, so c is kept
    duplicates = find_batch_duplicates(["a", "b", "c"], [a, b, c], max_distance=4)
    assert [(d.key, d.duplicate_of) for d in duplicates] == [("b", "a")]


def test_real_photo_reencoded_at_another_size_is_found_in_batch(
    sample_paths: list[Path],
) -> None:
    photos = sample_paths[100:110]
    data = [p.read_bytes() for p in photos]
    image = Image.open(io.BytesIO(data[3])).convert("RGB")
    smaller = image.resize((image.width * 2 // 3, image.height * 2 // 3))
    batch = [*data, jpeg_bytes(smaller, quality=60), data[7]]
    processed = [process_image(item) for item in batch]
    keys = [f"item{i}" for i in range(len(batch))]
    duplicates = find_batch_duplicates(keys, [p.phash for p in processed])
    found = {(d.key, d.duplicate_of) for d in duplicates}
    assert found == {("item10", "item3"), ("item11", "item7")}
    by_key = {d.key: d for d in duplicates}
    assert by_key["item11"].distance == 0


@pytest.mark.parametrize("int_keys", [False, True])
@pytest.mark.parametrize(
    ("scan_limit", "cells"), [(10**9, 4_000_000), (10**9, 5_000), (1_000, 4_000_000)]
)
def test_nearest_many_answers_as_nearest_does_query_by_query(
    int_keys: bool, scan_limit: int, cells: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether it scans (in one pass or in several steps) or asks the tables query by query:
    the same pairs in the same order, dead and replaced slots left out, ties oldest first."""
    monkeypatch.setattr(dedupe, "SCAN_MANY_LIMIT", scan_limit)
    monkeypatch.setattr(dedupe, "_SCAN_MANY_CELLS", cells)
    hashes = clustered_hashes(6_000, seed=5)
    hashes[10] = hashes[11] = hashes[12]  # equal distances to any query: insertion order
    keys = np.arange(6_000, dtype=np.int64) if int_keys else list(range(6_000))
    index = HashIndex.from_pairs(keys, hashes)
    for key in range(0, 6_000, 97):
        index.remove(key)
    if not int_keys:
        index.add(11, flip_bits(hashes[11], 3))  # replaced: its old slot is dead
    assert index._tables is not None
    rng = np.random.default_rng(6)
    queries = [hashes[12], phash_to_signed(hashes[40]), *edge_queries(hashes, rng, 4)[:60]]
    for max_distance in (0, 4, 9, -1):
        assert index.nearest_many(queries, max_distance) == [
            index.nearest(q, max_distance) for q in queries
        ]
    assert index.nearest_many([], 4) == []
    assert HashIndex().nearest_many([1, 2], 4) == [[], []]


def test_add_new_many_stores_as_single_adds_do() -> None:
    hashes = random_hashes(300, seed=9).tolist()
    one_by_one, at_once = HashIndex(), HashIndex()
    compact = HashIndex.from_pairs(np.array([-1], dtype=np.int64), [0])
    for key, value in enumerate(hashes):
        one_by_one.add(key, value, new=True)
    at_once.add_new_many(list(range(300)), hashes)
    compact.add_new_many(np.arange(300, dtype=np.int64), [phash_to_signed(h) for h in hashes])
    for query in hashes[:40]:
        expected = one_by_one.nearest(query, 6)
        assert at_once.nearest(query, 6) == expected
        assert compact.nearest(query, 6) == expected
    assert len(at_once) == 300
    with pytest.raises(ValueError, match="keys but"):
        at_once.add_new_many([1, 2], [3])
