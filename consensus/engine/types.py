"""Plain data types shared by every consensus method: votes, the encoded vote matrix, decisions
and per-item / per-worker results (no Django: the engine takes and returns plain data)."""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Vote:
    """One worker's answer about one item (for ImageNet: "is this image a <synset>?")."""

    item: Hashable
    worker: Hashable
    label: Hashable


class Decision(enum.StrEnum):
    """What the dynamic-consensus stopping rule says about an item (Deng et al. 2009 §3.2)."""

    ACCEPT = "accept"
    REJECT = "reject"
    NEED_MORE = "need_more"
    UNDECIDED = "undecided"  # the vote cap was reached without a confident answer


def _ordered(values: Iterable[Hashable]) -> list[Hashable]:
    """Distinct values in sorted order when they are comparable, else in first-seen order."""
    distinct = list(dict.fromkeys(values))
    try:
        return sorted(distinct)  # type: ignore[type-var]
    except TypeError:
        return distinct


def _encode(values: Sequence[Hashable], vocabulary: Sequence[Hashable]) -> np.ndarray:
    fast = _encode_integers(values, vocabulary)
    if fast is not None:
        return fast
    position = {value: index for index, value in enumerate(vocabulary)}
    try:
        return np.fromiter((position[v] for v in values), dtype=np.int64, count=len(values))
    except KeyError as error:
        raise ValueError(f"value {error.args[0]!r} is not in the declared labels") from None


def _encode_integers(
    values: Sequence[Hashable], vocabulary: Sequence[Hashable]
) -> np.ndarray | None:
    """Vectorised encoding when values and vocabulary are plain integers (database ids) or
    booleans (yes/no labels)."""
    if not len(values) or not all(type(v) in (int, bool) for v in vocabulary):
        return None
    array = np.asarray(values)
    if array.dtype.kind == "b":
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        return None
    codes = _positions(array, np.asarray(vocabulary, dtype=array.dtype))
    if (codes < 0).any():
        missing = array[codes < 0][0]
        raise ValueError(f"value {missing.item()!r} is not in the declared labels")
    return codes


def _positions(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each value's index in ``known`` (comparable, distinct), −1 where it is not there."""
    if not known.size:
        return np.full(values.shape, -1, dtype=np.int64)
    order = np.argsort(known, kind="stable")
    at = np.minimum(np.searchsorted(known[order], values), known.size - 1)
    return np.where(known[order][at] == values, order[at], -1).astype(np.int64)


def _first_seen(
    values: Sequence[Hashable], prefix: Sequence[Hashable] = ()
) -> tuple[list[Hashable], np.ndarray]:
    """Distinct values of ``prefix`` then ``values`` in first-seen order, and each value's code.
    Integer arrays (database ids) are done in numpy: a synset has 100,000 votes."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        try:
            head = np.asarray(prefix, dtype=values.dtype) if len(prefix) else values[:0]
        except (TypeError, ValueError, OverflowError):
            head = None
        if head is not None and head.ndim == 1:
            combined = np.concatenate([head, values])
            distinct, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
            by_first = np.argsort(first, kind="stable")
            code = np.empty(distinct.size, dtype=np.int64)
            code[by_first] = np.arange(distinct.size)
            return distinct[by_first].tolist(), code[inverse.ravel()[head.size :]]
        values = values.tolist()
    vocabulary = list(dict.fromkeys([*prefix, *values]))
    return vocabulary, _encode(values, vocabulary)


@dataclass(frozen=True)
class VoteMatrix:
    """Votes encoded as three parallel integer arrays, the form every method computes on.

    ``items``, ``workers`` and ``labels`` map the integer codes back to the caller's hashables.
    Items with no vote may be declared (e.g. gold items or candidates not yet shown).
    """

    items: tuple[Hashable, ...]
    workers: tuple[Hashable, ...]
    labels: tuple[Hashable, ...]
    item_index: np.ndarray
    worker_index: np.ndarray
    label_index: np.ndarray

    @classmethod
    def from_columns(
        cls,
        items: Sequence[Hashable],
        workers: Sequence[Hashable],
        labels: Sequence[Hashable],
        *,
        label_set: Sequence[Hashable] | None = None,
        item_set: Sequence[Hashable] | None = None,
    ) -> VoteMatrix:
        if not len(items) == len(workers) == len(labels):
            raise ValueError("items, workers and labels must have the same length")
        label_vocabulary = list(label_set) if label_set is not None else _ordered(labels)
        item_vocabulary, item_index = _first_seen(items, prefix=list(item_set or ()))
        worker_vocabulary, worker_index = _first_seen(workers)
        return cls(
            items=tuple(item_vocabulary),
            workers=tuple(worker_vocabulary),
            labels=tuple(label_vocabulary),
            item_index=item_index,
            worker_index=worker_index,
            label_index=_encode(labels, label_vocabulary),
        )

    @classmethod
    def from_votes(
        cls,
        votes: Iterable[Vote],
        *,
        label_set: Sequence[Hashable] | None = None,
        item_set: Sequence[Hashable] | None = None,
    ) -> VoteMatrix:
        votes = list(votes)
        return cls.from_columns(
            [v.item for v in votes],
            [v.worker for v in votes],
            [v.label for v in votes],
            label_set=label_set,
            item_set=item_set,
        )

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_workers(self) -> int:
        return len(self.workers)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def n_votes(self) -> int:
        return int(self.item_index.size)

    def label_counts(self) -> np.ndarray:
        """(items × labels) number of votes for each label."""
        flat = self.item_index * self.n_labels + self.label_index
        counts = np.bincount(flat, minlength=self.n_items * self.n_labels)
        return counts.reshape(self.n_items, self.n_labels)

    def votes_per_item(self) -> np.ndarray:
        return np.bincount(self.item_index, minlength=self.n_items)

    def label_codes(self, labels: Mapping[Hashable, Hashable] | None) -> np.ndarray:
        """Per item: the code of the label ``labels`` gives it (e.g. gold), −1 where it gives
        none or a label outside ``self.labels``."""
        codes = np.full(self.n_items, -1, dtype=np.int64)
        if labels:
            item_position = {item: index for index, item in enumerate(self.items)}
            label_position = {label: index for index, label in enumerate(self.labels)}
            for item, label in labels.items():
                row = item_position.get(item)
                if row is not None and label in label_position:
                    codes[row] = label_position[label]
        return codes

    def subset(self, mask: np.ndarray) -> VoteMatrix:
        """The same vocabularies with only the votes where ``mask`` is true (online replay)."""
        return VoteMatrix(
            items=self.items,
            workers=self.workers,
            labels=self.labels,
            item_index=self.item_index[mask],
            worker_index=self.worker_index[mask],
            label_index=self.label_index[mask],
        )

    def rows_of(self, items: np.ndarray) -> np.ndarray:
        """Each of ``items``' row in the matrix, −1 where it is not one of ``self.items``
        (integer keys such as database ids, vectorised)."""
        return _positions(np.asarray(items), np.asarray(self.items))


@dataclass(frozen=True)
class Estimate:
    """What a consensus method computes, in the matrix's integer coding.

    ``posterior`` is (items × labels); ``confusion`` is (workers × true label × given label) or
    None for methods without a worker model (majority vote).
    """

    posterior: np.ndarray
    class_prior: np.ndarray
    confusion: np.ndarray | None = None
    iterations: int = 0
    hard_labels: np.ndarray | None = None  # set when ties were split at random
    log_likelihood: float = float("nan")  # of the votes under the fitted (tempered) model
    item_correlation: float = 0.0  # ρ of the image effect (0: votes independent given truth)
    honest_share: float = 1.0  # empirical-Bayes share of honest workers
    honest: np.ndarray | None = None  # each worker's responsibility of being honest
    alpha: np.ndarray | None = None  # honest component's Dirichlet counts (workers × K × K)
    spam_rows: np.ndarray | None = None  # spammer component's answer distribution (workers × K)

    def predicted(self) -> np.ndarray:
        if self.hard_labels is not None:
            return self.hard_labels
        return np.argmax(self.posterior, axis=1)


@dataclass(frozen=True)
class ItemResult:
    posterior: dict[Hashable, float]
    decision: Decision
    n_votes: int

    @property
    def label(self) -> Hashable:
        return max(self.posterior, key=self.posterior.__getitem__)


@dataclass(frozen=True)
class WorkerResult:
    """``confusion[true][given]`` = P(worker answers ``given`` | item is ``true``).

    ``reliability`` is the multi-class Youden index (mean diagonal − 1/K) / (1 − 1/K): 1 for a
    perfect worker, ~0 for a spammer (uniform or constant answers), negative for an adversary.
    """

    confusion: dict[Hashable, dict[Hashable, float]]
    reliability: float
    n_votes: int


@dataclass(frozen=True)
class Result:
    labels: tuple[Hashable, ...]
    items: dict[Hashable, ItemResult]
    workers: dict[Hashable, WorkerResult]
    class_prior: dict[Hashable, float]
    difficulty: float  # mean normalised posterior entropy: 0 = every item certain, 1 = coin flips
    mean_worker_accuracy: float | None = None
    iterations: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def worker_reliability(confusion: np.ndarray) -> np.ndarray:
    """Youden-style skill of each worker from (workers × K × K) confusion matrices."""
    n_labels = confusion.shape[-1]
    mean_diagonal = np.trace(confusion, axis1=-2, axis2=-1) / n_labels
    return (mean_diagonal - 1.0 / n_labels) / (1.0 - 1.0 / n_labels)


def normalised_entropy(posterior: np.ndarray) -> np.ndarray:
    n_labels = posterior.shape[1]
    if n_labels < 2:
        return np.zeros(posterior.shape[0])
    safe = np.clip(posterior, 1e-300, 1.0)
    return -(posterior * np.log(safe)).sum(axis=1) / np.log(n_labels)
