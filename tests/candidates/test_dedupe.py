"""Tests for candidates/dedupe.py: the vectorised Hamming index and batch duplicate finding."""

from __future__ import annotations

import io
import time
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
        value ^= 1 << bit
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


def test_lookup_in_a_million_hashes_is_fast_and_exact() -> None:
    hashes = random_hashes(1_000_000, seed=6)
    started = time.perf_counter()
    index = HashIndex.from_pairs(range(1_000_000), hashes)
    build = time.perf_counter() - started
    target = flip_bits(int(hashes[765_432]), 3, 40)
    started = time.perf_counter()
    for _ in range(10):
        found = index.nearest(target, DEFAULT_MAX_DISTANCE)
    per_lookup = (time.perf_counter() - started) / 10
    assert found == [(765_432, 2)]
    assert build < 3.0
    # Generous bound for slow CI; the benchmark measures ~0.5 ms. A quadratic or per-item
    # Python loop would take seconds.
    assert per_lookup < 0.05


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
