"""Offline and online evaluation of the consensus methods on crowd votes with known truth
(the ``item,worker,label`` / ``item,label`` CSV files of shared/data/crowd)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from consensus.engine.calibration import SEED_MIN_VOTES, reliability_table
from consensus.engine.dawid_skene import dawid_skene
from consensus.engine.dynamic import decide_synset
from consensus.engine.majority import majority_vote
from consensus.engine.model import ModelPriors, fit_model
from consensus.engine.stopping import NEED_MORE, StoppingRule
from consensus.engine.types import Estimate, VoteMatrix

Method = Callable[..., Estimate]

# A label value used by fewer than this share of the votes, next to at least two common ones, is
# a stray value (a typo such as "yes" among 0/1): its votes are dropped and counted.
STRAY_SHARE = 0.005
MAX_VOTES_LIMIT = 10_000
SEED_SIZE = 50  # seed images per replay (the project's default seed_size)


def _majority(matrix: VoteMatrix, *, seed: int = 0, **_: object) -> Estimate:
    return majority_vote(matrix, seed=seed)


def _dawid_skene(matrix: VoteMatrix, **_: object) -> Estimate:
    return dawid_skene(matrix)


def _model(
    matrix: VoteMatrix, *, init_posterior: np.ndarray | None = None, **_: object
) -> Estimate:
    return fit_model(matrix, init_posterior=init_posterior)


def _model_loo(
    matrix: VoteMatrix, *, init_posterior: np.ndarray | None = None, **_: object
) -> Estimate:
    """Our model with the collapsed (leave-one-out) E-step."""
    return fit_model(matrix, init_posterior=init_posterior, priors=ModelPriors(collapsed=True))


# "model" replays with calibrated stopping (consensus.engine.dynamic); "model-raw" is the same
# fit deciding on its raw posterior, the others are baselines deciding on theirs.
METHODS: dict[str, Method] = {
    "mv": _majority,
    "ds": _dawid_skene,
    "model": _model,
    "model-raw": _model,
    "model-loo": _model_loo,
}


class InputError(ValueError):
    """A votes or truth file that cannot be evaluated as given."""


@dataclass(frozen=True)
class LoadedVotes:
    matrix: VoteMatrix
    notes: dict[str, object]  # what was cleaned: stripped spaces, stray labels, duplicates


def _read_rows(path: str | Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        # utf-8-sig drops a byte-order mark, which would otherwise glue itself to "item".
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in (reader.fieldnames or [])]
            if not header:
                raise InputError(f"{path}: empty file (expected a header {','.join(columns)})")
            missing = [name for name in columns if name not in header]
            if missing:
                raise InputError(
                    f"{path}: missing column(s) {missing}; the header is {header}, "
                    f"expected {','.join(columns)}"
                )
            reader.fieldnames = header
            rows = list(reader)
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason})") from None
    if not rows:
        raise InputError(f"{path}: header only, no rows")
    return rows


def read_votes(path: str | Path, *, labels: Sequence[str] | None = None) -> LoadedVotes:
    """Read ``item,worker,label`` rows, cleaning what can be cleaned and saying so in ``notes``.

    Values are stripped of surrounding spaces (counted); rows with an empty item or worker are
    refused; a label outside ``labels`` (or, without it, a stray value used by < 0.5% of the
    votes) drops its votes (counted per value); a second vote by the same worker on the same item
    is dropped, the first kept (counted, and how many of those disagreed with the first).
    Every item of the file stays declared, so ``n_items`` is the items in the file.
    """
    rows = _read_rows(path, ("item", "worker", "label"))
    stripped = 0
    triples = []
    for line, row in enumerate(rows, start=2):
        raw = (row.get("item"), row.get("worker"), row.get("label"))
        if any(value is None for value in raw):
            raise InputError(f"{path}: line {line} has fewer than 3 fields")
        clean = tuple(value.strip() for value in raw)  # type: ignore[union-attr]
        stripped += sum(a != b for a, b in zip(raw, clean, strict=True))
        if not clean[0] or not clean[1]:
            raise InputError(f"{path}: line {line} has an empty item or worker")
        triples.append(clean)
    counts = Counter(label for _, _, label in triples)
    if labels is not None:
        allowed = set(labels)
        stray = {label: n for label, n in counts.items() if label not in allowed}
    else:
        common = [label for label, n in counts.items() if n >= STRAY_SHARE * len(triples)]
        stray = {
            label: n
            for label, n in counts.items()
            if label == "" or (n < STRAY_SHARE * len(triples) and len(common) >= 2)
        }
    all_items = list(dict.fromkeys(item for item, _, _ in triples))
    seen: dict[tuple[str, str], str] = {}
    duplicates = conflicting = 0
    kept = []
    for item, worker, label in triples:
        if label in stray:
            continue
        first = seen.get((item, worker))
        if first is not None:
            duplicates += 1
            conflicting += first != label
            continue
        seen[(item, worker)] = label
        kept.append((item, worker, label))
    if not kept:
        raise InputError(f"{path}: no usable vote (stray labels: {stray})")
    label_set = list(labels) if labels is not None else None
    if label_set is not None:
        label_set = [label for label in label_set if label in {lab for _, _, lab in kept}]
    matrix = VoteMatrix.from_columns(
        [item for item, _, _ in kept],
        [worker for _, worker, _ in kept],
        [label for _, _, label in kept],
        label_set=label_set,
        item_set=all_items,
    )
    notes: dict[str, object] = {}
    if stripped:
        notes["values_with_spaces_stripped"] = stripped
    if stray:
        notes["stray_labels_dropped"] = dict(sorted(stray.items()))
    if duplicates:
        notes["duplicate_votes_dropped"] = {
            "count": duplicates,
            "conflicting": conflicting,
            "rule": "first vote of a worker on an item kept",
        }
    return LoadedVotes(matrix=matrix, notes=notes)


def load_votes(path: str | Path) -> VoteMatrix:
    """Read ``item,worker,label`` rows (with header); labels stay strings as in the file."""
    return read_votes(path).matrix


def read_truth(path: str | Path) -> tuple[dict[Hashable, Hashable], dict[str, object]]:
    """``item,label`` rows, stripped; a repeated item keeps its first label (counted)."""
    rows = _read_rows(path, ("item", "label"))
    truth: dict[Hashable, Hashable] = {}
    stripped = repeated = 0
    for line, row in enumerate(rows, start=2):
        item, label = row.get("item"), row.get("label")
        if item is None or label is None:
            raise InputError(f"{path}: line {line} has fewer than 2 fields")
        stripped += (item != item.strip()) + (label != label.strip())
        item, label = item.strip(), label.strip()
        if not item or not label:
            raise InputError(f"{path}: line {line} has an empty item or label")
        if item in truth:
            repeated += 1
            continue
        truth[item] = label
    notes: dict[str, object] = {}
    if stripped:
        notes["values_with_spaces_stripped"] = stripped
    if repeated:
        notes["repeated_items_ignored"] = repeated
    return truth, notes


def load_truth(path: str | Path) -> dict[Hashable, Hashable]:
    return read_truth(path)[0]


@dataclass(frozen=True)
class Scores:
    accuracy: float
    per_class: dict[str, dict[str, float]]
    n_items: int  # the items scored: those with a true label

    def as_dict(self) -> dict[str, object]:
        # "n_scored", not "n_items": the report's own n_items counts every item of the votes
        # file, and these scores are spread into it.
        return {"accuracy": self.accuracy, "per_class": self.per_class, "n_scored": self.n_items}


def score(matrix: VoteMatrix, predicted: np.ndarray, truth: Mapping[Hashable, Hashable]) -> Scores:
    """Accuracy and per-class precision/recall over the items that have a true label."""
    label_position = {label: index for index, label in enumerate(matrix.labels)}
    rows, true_codes = [], []
    for row, item in enumerate(matrix.items):
        if item in truth:
            rows.append(row)
            # A true label no worker ever gave can never be predicted: it counts as an error.
            true_codes.append(label_position.get(truth[item], -1))
    rows_array = np.array(rows, dtype=np.int64)
    true_array = np.array(true_codes, dtype=np.int64)
    guessed = predicted[rows_array]
    per_class: dict[str, dict[str, float]] = {}
    for code, label in enumerate(matrix.labels):
        hits = float(np.sum((guessed == code) & (true_array == code)))
        n_guessed = float(np.sum(guessed == code))
        support = float(np.sum(true_array == code))
        per_class[str(label)] = {
            "precision": hits / n_guessed if n_guessed else 0.0,
            "recall": hits / support if support else 0.0,
            "support": int(support),
        }
    accuracy = float(np.mean(guessed == true_array)) if rows else 0.0
    return Scores(accuracy=accuracy, per_class=per_class, n_items=len(rows))


def evaluate_offline(
    matrix: VoteMatrix, truth: Mapping[Hashable, Hashable], method: str, *, seed: int = 0
) -> Scores:
    estimate = METHODS[method](matrix, seed=seed)
    return score(matrix, estimate.predicted(), truth)


@dataclass(frozen=True)
class Replay:
    scores: Scores
    mean_votes: float  # votes revealed per item when collection stopped
    vote_fraction: float  # revealed votes / all votes in the archive
    rounds: int
    decided_fraction: float  # items that stopped on confidence, not on the cap
    at_decision: dict[str, object] = field(default_factory=dict)
    reliability: list[dict[str, float | int]] = field(default_factory=list)
    seed_items: int = 0
    gold_items: int = 0
    models_chosen: dict[str, int] = field(default_factory=dict)


def reveal_order(matrix: VoteMatrix, *, seed: int) -> np.ndarray:
    """Rank of every vote within its item under a seeded random order (0 = shown first)."""
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(matrix.n_votes), matrix.item_index))
    rank = np.empty(matrix.n_votes, dtype=np.int64)
    starts = np.searchsorted(matrix.item_index[order], np.arange(matrix.n_items))
    rank[order] = np.arange(matrix.n_votes) - np.repeat(starts, matrix.votes_per_item())
    return rank


def _truth_codes(matrix: VoteMatrix, truth: Mapping[Hashable, Hashable]) -> np.ndarray:
    """Per item: the true label's code, -1 for no truth, -2 for a label no worker gave."""
    label_position = {label: index for index, label in enumerate(matrix.labels)}
    return np.array(
        [label_position.get(truth[item], -2) if item in truth else -1 for item in matrix.items],
        dtype=np.int64,
    )


def replay_online(
    matrix: VoteMatrix,
    truth: Mapping[Hashable, Hashable],
    method: str = "model",
    *,
    threshold: float = 0.99,
    max_votes: int = 10,
    seed: int = 0,
    seed_size: int = SEED_SIZE,
    gold_size: int = 0,
) -> Replay:
    """Replay an archive as if it were being collected (Deng et al. 2009 §3.2, dynamic consensus).

    Seed: up to ``seed_size`` random items with at least 10 votes get 10 votes first (ImageNet's
    seed set; they calibrate the posterior and are not counted as decisions). Rounds: every
    still-open item receives its next vote (in a seeded random order); the method is re-fitted on
    everything revealed so far (warm-started); an item closes when the stopping rule fires, when
    it has ``max_votes`` votes, or when the archive has no more votes for it. For ``model`` the
    rule sees calibrated probabilities and needs two informative votes behind a decision
    (:func:`consensus.engine.dynamic.decide_synset`); the other methods decide on their raw
    posterior. The rule is symmetric: an item is decided for the label whose probability
    reaches ``threshold``. Gold: ``gold_size`` other random items with at least two votes enter
    with every vote and their truth, as a project's gold images would (``model`` calibrates on
    them); like the seed, they are neither decided nor scored.

    Scored: the label and probability each decided item had *at the moment it was decided*
    (precision per label), a reliability table over every item as it closed (probability of its
    label then vs. truth), and the accuracy of a final fit on all revealed votes — what an export
    computes once collection is over.
    """
    rule = StoppingRule(accept_threshold=threshold, reject_threshold=threshold, max_votes=max_votes)
    fit = METHODS[method]
    calibrated = method == "model"
    rank = reveal_order(matrix, seed=seed)
    available = matrix.votes_per_item()
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(available >= SEED_MIN_VOTES)
    seed_rows = np.sort(rng.choice(candidates, min(seed_size, candidates.size), replace=False))
    shown = np.zeros(matrix.n_items, dtype=np.int64)
    shown[seed_rows] = SEED_MIN_VOTES
    is_seed = np.zeros(matrix.n_items, dtype=bool)
    is_seed[seed_rows] = True
    true_codes = _truth_codes(matrix, truth)
    gold_pool = np.flatnonzero((available >= 2) & ~is_seed & (true_codes != -1))
    gold_rows = np.sort(rng.choice(gold_pool, min(gold_size, gold_pool.size), replace=False))
    gold = {matrix.items[row]: matrix.labels[true_codes[row]] for row in gold_rows.tolist()}
    shown[gold_rows] = available[gold_rows]
    is_seed[gold_rows] = True  # neither decided nor scored, like the seed
    open_items = (available > 0) & ~is_seed
    decided = np.zeros(matrix.n_items, dtype=bool)
    closed_label = np.full(matrix.n_items, -1, dtype=np.int64)
    closed_probability = np.full(matrix.n_items, np.nan)
    posterior = None
    rounds = 0
    chosen: Counter[str] = Counter()
    while open_items.any():
        rounds += 1
        shown[open_items] += 1
        revealed = matrix.subset(rank < shown[matrix.item_index])
        if calibrated:
            result = decide_synset(
                revealed, rule=rule, seed_rows=seed_rows, init_posterior=posterior,
                vote_limit=available, seed=seed, gold=gold or None,
            )  # fmt: skip
            posterior = result.estimate.posterior
            probabilities, codes = result.posterior, result.codes
            chosen[result.model] += 1
        else:
            estimate = fit(revealed, seed=seed, init_posterior=posterior)
            posterior = probabilities = estimate.posterior
            codes = rule.decide_many(
                probabilities, shown, labels=matrix.labels, vote_limit=available
            )
        closing = open_items & (codes != NEED_MORE)
        decided |= closing & (codes < NEED_MORE)
        closed_label[closing] = probabilities[closing].argmax(axis=1)
        closed_probability[closing] = probabilities[closing].max(axis=1)
        open_items &= codes == NEED_MORE
    revealed = matrix.subset(rank < shown[matrix.item_index])
    final = fit(revealed, seed=seed, init_posterior=posterior)
    return Replay(
        scores=score(matrix, final.predicted(), truth),
        mean_votes=float(revealed.n_votes / max(matrix.n_items, 1)),
        vote_fraction=float(revealed.n_votes / max(matrix.n_votes, 1)),
        rounds=rounds,
        decided_fraction=float(decided.mean()) if matrix.n_items else 0.0,
        at_decision=_at_decision(matrix, decided, closed_label, true_codes),
        reliability=_reliability(closed_label, closed_probability, true_codes),
        seed_items=int(seed_rows.size),
        gold_items=int(gold_rows.size),
        models_chosen=dict(chosen),
    )


def _at_decision(
    matrix: VoteMatrix, decided: np.ndarray, label: np.ndarray, truth: np.ndarray
) -> dict[str, object]:
    """Precision of the decided items' labels as they were when decided, overall and per label
    (for a yes/no task, positives and negatives separately); items without truth are left out."""
    scored = decided & (truth != -1)
    right = label == truth
    per_label = {}
    for code, name in enumerate(matrix.labels):
        mask = scored & (label == code)
        per_label[str(name)] = {
            "decided": int(mask.sum()),
            "precision": float(right[mask].mean()) if mask.any() else None,
        }
    return {
        "decided": int(scored.sum()),
        "precision": float(right[scored].mean()) if scored.any() else None,
        "per_label": per_label,
    }


def _reliability(
    label: np.ndarray, probability: np.ndarray, truth: np.ndarray
) -> list[dict[str, float | int]]:
    closed = (label >= 0) & (truth != -1)
    return reliability_table(probability[closed], (label == truth)[closed].astype(float))


def _check_settings(threshold: float, max_votes: int, seed_size: int) -> None:
    if not isinstance(threshold, int | float) or not 0.5 <= threshold <= 1.0:
        raise InputError(f"threshold must lie in [0.5, 1], got {threshold!r}")
    if isinstance(max_votes, bool) or not isinstance(max_votes, int):
        raise InputError(f"max_votes must be an integer, got {max_votes!r}")
    if not 1 <= max_votes <= MAX_VOTES_LIMIT:
        raise InputError(f"max_votes must lie in [1, {MAX_VOTES_LIMIT}], got {max_votes}")
    if seed_size < 0:
        raise InputError(f"seed_size must be at least 0, got {seed_size}")


def consensus_report(
    votes_path: str | Path,
    truth_path: str | Path,
    *,
    method: str = "model",
    replay: bool = False,
    threshold: float = 0.99,
    max_votes: int = 10,
    seed: int = 0,
    seed_size: int = SEED_SIZE,
    labels: Sequence[str] | None = None,
) -> dict[str, object]:
    """Everything ``manage.py consensus_eval`` prints: the chosen method next to the baselines.

    Settings are checked whether or not ``replay`` is asked for; cleaning done on the input is
    listed under ``input`` (``n_items`` stays the number of items in the votes file).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}")
    _check_settings(threshold, max_votes, seed_size)
    loaded = read_votes(votes_path, labels=labels)
    matrix = loaded.matrix
    truth, truth_notes = read_truth(truth_path)
    matched = [item for item in matrix.items if item in truth]
    if not matched:
        raise InputError(
            f"{truth_path}: none of its {len(truth)} items is among the {matrix.n_items} items "
            f"of {votes_path} (check the item column of both files)"
        )
    voted_labels = {str(label) for label in matrix.labels}
    outside = Counter(str(truth[item]) for item in matched if str(truth[item]) not in voted_labels)
    input_notes: dict[str, object] = {"votes": loaded.notes, "truth": truth_notes}
    truth_notes["items_scored"] = len(matched)
    if len(matched) < len(truth):
        truth_notes["items_without_votes"] = len(truth) - len(matched)
    if outside:
        truth_notes["labels_outside_the_voted_set"] = dict(sorted(outside.items()))
        truth_notes["note"] = "an item whose true label no worker gave counts as an error"
    report: dict[str, object] = {
        "method": method,
        "n_items": matrix.n_items,
        "n_workers": matrix.n_workers,
        "n_votes": matrix.n_votes,
        "labels": [str(label) for label in matrix.labels],
        "tie_rule": "majority-vote ties split uniformly at random with the seed",
        "seed": seed,
        "input": input_notes,
        **evaluate_offline(matrix, truth, method, seed=seed).as_dict(),
        "baselines": {
            name: evaluate_offline(matrix, truth, name, seed=seed).as_dict()
            for name in ("mv", "ds")
            if name != method
        },
    }
    if replay:
        result = replay_online(
            matrix, truth, method, threshold=threshold, max_votes=max_votes, seed=seed,
            seed_size=seed_size,
        )  # fmt: skip
        report["replay"] = {
            "threshold": threshold,
            "max_votes": max_votes,
            "calibrated": method == "model",
            "seed_items": result.seed_items,
            "mean_votes_per_item": result.mean_votes,
            "vote_fraction": result.vote_fraction,
            "rounds": result.rounds,
            "decided_fraction": result.decided_fraction,
            "at_decision": result.at_decision,
            "reliability": result.reliability,
            "models_chosen": result.models_chosen,
            **result.scores.as_dict(),
        }
    return report
