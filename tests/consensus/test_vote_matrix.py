"""The encoded vote matrix: id arrays from the database encode as Python values would, and the
calibration's random draws are keyed on each value alone."""

from __future__ import annotations

import numpy as np

from consensus.engine import stable_random
from consensus.engine.types import VoteMatrix


def test_integer_id_arrays_encode_like_lists():
    items = [12, 7, 12, 30, 7, 12]
    workers = [4, 4, 9, 9, 1, 1]
    labels = [True, False, True, True, False, True]
    from_lists = VoteMatrix.from_columns(items, workers, labels, label_set=[False, True],
                                         item_set=[99, 7])  # fmt: skip
    from_arrays = VoteMatrix.from_columns(
        np.array(items), np.array(workers), np.array(labels), label_set=[False, True],
        item_set=[99, 7],
    )  # fmt: skip
    # Declared items first, then the others in the order they were first voted on.
    assert from_arrays.items == from_lists.items == (99, 7, 12, 30)
    assert from_arrays.workers == from_lists.workers == (4, 9, 1)
    assert all(type(item) is int for item in from_arrays.items + from_arrays.workers)
    for name in ("item_index", "worker_index", "label_index"):
        assert np.array_equal(getattr(from_arrays, name), getattr(from_lists, name))


def test_rows_of_finds_each_items_row_or_minus_one():
    matrix = VoteMatrix.from_columns(np.array([30, 10, 20]), np.array([1, 1, 2]),
                                     np.array([1, 0, 1]), label_set=[0, 1])  # fmt: skip
    assert matrix.rows_of(np.array([10, 20, 30, 40, 5])).tolist() == [1, 2, 0, -1, -1]


def test_stable_keys_do_not_depend_on_the_other_values():
    assert stable_random.keys([3, 8]).tolist() == [3, 8]
    mixed = stable_random.keys([3, "a"])
    assert mixed[0] == 3 and mixed[1] == stable_random.keys(["a", "b"])[0]
    u = stable_random.uniform(0, 1, stable_random.keys(list(range(20_000))))
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    copies = stable_random.poisson_one(u)
    assert abs(copies.mean() - 1.0) < 0.03 and abs((copies == 0).mean() - np.exp(-1)) < 0.02
