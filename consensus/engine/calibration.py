"""Calibrated probabilities for the stopping rule: a posterior is only worth its threshold if, of
the images closed at P ≥ τ, a share ≥ τ is right.

ImageNet's device (Deng et al. 2009 §3.2): a seed set of images gets at least 10 votes each, and
the confidence of *fewer* votes is read off how those fewer votes fare against the others. We
apply it to any model's posterior:

1. reference images: seed images and any image with ≥ ``SEED_MIN_VOTES`` votes, and gold images
   with votes (at most ``MAX_REFERENCE_IMAGES``, a random subset drawn per image);
2. for every reference image, several random orders of its votes; each prefix is the image "as
   it would have looked online": its posterior is recomputed from those votes alone with the
   fitted workers, exactly as the live posterior is computed;
3. a gold prefix is judged by the truth; a seed prefix of at most half the image's votes by the
   posterior of the image's *other* votes (soft), never by a verdict containing the prefix
   itself; against an independent, noisier judge agreement understates accuracy (cautious);
4. per predicted label, a logistic curve P(right) = σ(a_label + b·logit(confidence)) with a slope
   shared by the labels, refitted on a bootstrap of the reference *images*; the calibrated
   probability is the lower ``CONFIDENCE`` quantile of the curves, evaluated no further than the
   most confident reference prefix and never above the model's own confidence.

Where there are too few reference images (no seed, no gold: e.g. three votes per image), a
conservative fallback halves the evidence on the log-odds scale around the class prior (two
agreeing votes count as one) and certifies nothing above ``FALLBACK_CAP``. An isotonic variant
(blocks at their Jeffreys lower bound) is kept as ``method="isotonic"``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit
from scipy.stats import beta as beta_distribution

from consensus.engine import stable_random
from consensus.engine.dawid_skene import softmax_rows
from consensus.engine.model import evidence_weight
from consensus.engine.types import Estimate, VoteMatrix

SEED_MIN_VOTES = 10  # Deng et al. 2009 §3.2: "at least 10 users are asked to vote" on each
# Below this many (image, prefix) observations a label falls back; above it the Jeffreys bound
# itself is the conservative answer to thin data (10 right of 10: 0.83, 100: 0.98, 1000: 0.998).
MIN_OBSERVATIONS = 5.0
# Calibration curves are fitted only from at least this many reference images: a bootstrap over
# fewer says little about the bound.
MIN_REFERENCE_IMAGES = 20
MAX_REFERENCE_IMAGES = 300  # beyond this, a random subset of the reference images is used
FALLBACK_SLOPE = 0.5  # share of the log-odds evidence kept when there is no calibration data
# Without reference data no probability is certified above this: such a label is never decided
# at τ > 0.9 (measured on the 3-vote product set, the halved evidence alone still over-promised).
FALLBACK_CAP = 0.9
CONFIDENCE = 0.95  # one-sided level of the lower bound on each block's accuracy
DRAWS = 4  # random vote orders per reference image
# A vote backs a label only when its worker's likelihood ratio for it is at least this.
INFORMATIVE_RATIO = 1.5


@dataclass(frozen=True)
class LabelCalibration:
    """Step function raw confidence → calibrated probability for images predicted this label."""

    edges: np.ndarray  # lower raw-confidence edge of each block, increasing
    values: np.ndarray  # calibrated probability of each block, non-decreasing
    observations: float

    def __call__(self, confidence: np.ndarray) -> np.ndarray:
        block = np.searchsorted(self.edges, confidence, side="right") - 1
        # Below the least confident block nothing is known: probability 0 (the caller floors it).
        return np.where(block >= 0, self.values[np.maximum(block, 0)], 0.0)


@dataclass(frozen=True)
class PlattCalibration:
    """Logistic calibration P(right) = σ(a + b·logit(confidence)) per predicted label, evaluated
    at the lower ``level`` quantile over a bootstrap of the reference *images* (so the bound
    reflects how many images, not how many prefixes, stand behind it), and never extrapolated
    beyond the most confident reference prefix."""

    intercepts: np.ndarray  # one (a, b) per bootstrap sample
    slopes: np.ndarray
    max_logit: float
    observations: float
    level: float

    def __call__(self, confidence: np.ndarray) -> np.ndarray:
        x = np.minimum(_confidence_logit(confidence), self.max_logit)
        curves = expit(self.intercepts[:, None] + self.slopes[:, None] * x[None, :])
        return np.quantile(curves, 1.0 - self.level, axis=0)


def _confidence_logit(confidence: np.ndarray) -> np.ndarray:
    return logit(np.clip(confidence, 1e-9, 1 - 1e-12))


def _logistic_fit(
    design: np.ndarray, y: np.ndarray, w: np.ndarray, start: np.ndarray | None = None
) -> np.ndarray:
    """Weighted logistic regressions of soft targets y (Newton–Raphson with a tiny ridge), one
    per row of ``w`` (samples × observations), all at once: a bootstrap's fits share the design
    and differ only in their weights. Returns samples × parameters."""
    w = np.atleast_2d(w)
    theta = (
        np.zeros((w.shape[0], design.shape[1]))
        if start is None
        else np.tile(start, (w.shape[0], 1))
    )
    ridge = 1e-6 * np.eye(design.shape[1])
    active = np.ones(w.shape[0], dtype=bool)
    for _ in range(50):
        fitting = np.flatnonzero(active)
        p = expit(theta[fitting] @ design.T)
        weights = w[fitting]
        gradient = (weights * (y - p)) @ design - 1e-6 * theta[fitting]
        hessian = (design.T * (weights * p * (1 - p))[:, None, :]) @ design + ridge
        step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        theta[fitting] += step
        # A fit is done once its own step is negligible; the others go on without it.
        active[fitting[np.abs(step).max(axis=1) < 1e-8]] = False
        if not active.any():
            break
    return theta


def fit_platt_calibration(
    confidence: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    groups: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    n_labels: int | None = None,
    level: float = CONFIDENCE,
    bootstrap: int = 30,
    seed: int = 0,
) -> list[PlattCalibration | None]:
    """One logistic curve per predicted label — its own intercept, a slope shared by all labels
    (a rare label borrows the slope from the common one) — bootstrapped over reference images
    (``groups``: each observation's image, by a stable key such as its id).
    Returns one calibration per label (None for a label never predicted)."""
    if labels is None:
        labels = np.zeros(confidence.size, dtype=np.int64)
    n_labels = int(labels.max()) + 1 if n_labels is None else n_labels
    present = np.bincount(labels, minlength=n_labels) > 0
    columns = np.cumsum(present) - 1  # design column of each present label
    x = _confidence_logit(confidence)
    design = np.zeros((x.size, int(present.sum()) + 1))
    design[np.arange(x.size), columns[labels]] = 1.0
    design[:, -1] = x
    unique, group_index = np.unique(groups, return_inverse=True)
    group_keys = stable_random.keys(unique.tolist())
    full = _logistic_fit(design, right, weight)
    # A Poisson bootstrap keyed on the image: an image's weight in a replicate does not depend
    # on which other images are in the sample (see stable_random).
    multiplicity = stable_random.poisson_one(
        stable_random.uniform(seed, np.arange(1, bootstrap)[:, None], group_keys[None, :])
    ).astype(float)
    # The bootstrap fits start from the full-data fit.
    thetas = np.vstack(
        [full, _logistic_fit(design, right, weight * multiplicity[:, group_index], full[0])]
    )
    out: list[PlattCalibration | None] = []
    for label in range(n_labels):
        mask = labels == label
        if not present[label]:
            out.append(None)
            continue
        out.append(
            PlattCalibration(
                intercepts=thetas[:, columns[label]],
                slopes=thetas[:, -1],
                max_logit=float(x[mask].max()),
                observations=float(weight[mask].sum()),
                level=level,
            )
        )
    return out


@dataclass(frozen=True)
class Calibration:
    """Per predicted label: a fitted step function, or None for the conservative fallback."""

    labels: tuple[Hashable, ...]
    per_label: tuple[LabelCalibration | PlattCalibration | None, ...]
    class_prior: np.ndarray
    reference_images: int = 0
    gold_images: int = 0
    notes: dict[str, float] = field(default_factory=dict)

    def apply(self, posterior: np.ndarray) -> np.ndarray:
        """Calibrated (items × labels) posterior: the predicted label gets its calibrated
        probability, the remainder is spread over the other labels in their raw proportions."""
        n_items, n_labels = posterior.shape
        best = posterior.argmax(axis=1)
        confidence = posterior[np.arange(n_items), best]
        calibrated = np.empty(n_items)
        for label in range(n_labels):
            rows = best == label
            if not rows.any():
                continue
            step = self.per_label[label]
            if step is None:
                calibrated[rows] = fallback(confidence[rows], self.class_prior[label])
            else:
                # Never more sure than the model itself: the bound only ever takes confidence away.
                calibrated[rows] = np.minimum(step(confidence[rows]), confidence[rows])
        calibrated = np.maximum(calibrated, 1.0 / n_labels)
        rest = posterior.copy()
        rest[np.arange(n_items), best] = 0.0
        rest_total = rest.sum(axis=1, keepdims=True)
        share = np.where(
            rest_total > 0, rest / np.maximum(rest_total, 1e-300), 1.0 / max(n_labels - 1, 1)
        )
        result = share * (1.0 - calibrated)[:, None]
        result[np.arange(n_items), best] = calibrated
        return result

    def sources(self) -> dict[str, str]:
        return {
            str(label): "fallback" if step is None else f"{step.observations:.0f} observations"
            for label, step in zip(self.labels, self.per_label, strict=True)
        }


def fallback(confidence: np.ndarray, prior: float) -> np.ndarray:
    """Half the evidence on the log-odds scale, measured from the class prior, capped at
    ``FALLBACK_CAP``."""
    prior = float(np.clip(prior, 1e-3, 1 - 1e-3))
    clipped = np.clip(confidence, 1e-12, 1 - 1e-12)
    halved = expit(logit(prior) + FALLBACK_SLOPE * (logit(clipped) - logit(prior)))
    return np.minimum(halved, FALLBACK_CAP)


def _blocks(confidence: np.ndarray, right: np.ndarray, weight: np.ndarray) -> list[list[float]]:
    """Weighted pool-adjacent-violators; blocks as [first confidence, Σ w·right, Σ w]."""
    order = np.argsort(confidence, kind="stable")
    blocks: list[list[float]] = []
    for c, r, w in zip(
        confidence[order].tolist(), right[order].tolist(), weight[order].tolist(), strict=True
    ):
        if blocks and blocks[-1][0] == c:
            blocks[-1][1] += w * r
            blocks[-1][2] += w
        else:
            blocks.append([c, w * r, w])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1][1] += last[1]
            blocks[-1][2] += last[2]
    return blocks


def fit_label_calibration(
    confidence: np.ndarray, right: np.ndarray, weight: np.ndarray, *, level: float = CONFIDENCE
) -> LabelCalibration:
    blocks = _blocks(confidence, right, weight)
    edges = np.array([block[0] for block in blocks])
    hits = np.array([block[1] for block in blocks])
    totals = np.array([block[2] for block in blocks])
    # Jeffreys lower bound of each block's accuracy, then non-decreasing again: accuracy grows
    # with confidence, so a sparse high block is worth at least the bound of a denser lower one.
    lower = beta_distribution.ppf(1.0 - level, hits + 0.5, totals - hits + 0.5)
    values = np.maximum.accumulate(np.nan_to_num(lower, nan=0.0))
    return LabelCalibration(edges=edges, values=values, observations=float(totals.sum()))


def _keys_of(matrix: VoteMatrix, rows: np.ndarray) -> np.ndarray:
    """Stable keys of the images on ``rows`` (matrix rows), in the order of ``rows``."""
    return stable_random.keys([matrix.items[row] for row in rows.tolist()])


def _row_keys(matrix: VoteMatrix, rows: np.ndarray) -> np.ndarray:
    """Stable keys of the images on ``rows`` (matrix rows), placed at those rows (0 elsewhere)."""
    out = np.zeros(matrix.n_items, np.uint64)
    out[rows] = _keys_of(matrix, rows)
    return out


def stable_subset(matrix: VoteMatrix, rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` of ``rows`` (ascending), chosen by a hash of each image's key: one image more
    or less among ``rows`` changes the subset by at most that image."""
    if rows.size <= size:
        return rows
    draw = stable_random.uniform(seed, _keys_of(matrix, rows))
    return np.sort(rows[np.argsort(draw, kind="stable")[:size]])


def prefix_posteriors(
    matrix: VoteMatrix,
    estimate: Estimate,
    rows: np.ndarray,
    *,
    draws: int = DRAWS,
    max_size: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Posteriors of the given images from prefixes of random orders of their votes, and from
    the rest of their votes.

    Returns (row, prefix length, draw, prefix posterior, rest posterior) per prefix, lengths
    1 … n − 1 (capped at ``max_size``), each computed like the live posterior: class prior +
    tempered sum of the fitted workers' vote log-likelihoods.
    """
    assert estimate.confusion is not None
    keep = np.isin(matrix.item_index, rows)
    items = matrix.item_index[keep]
    columns = estimate.confusion[matrix.worker_index[keep], :, matrix.label_index[keep]]
    per_vote = np.log(np.maximum(columns, 1e-300))
    n_total = np.bincount(items, minlength=matrix.n_items)
    totals = np.zeros((matrix.n_items, matrix.n_labels))
    np.add.at(totals, items, per_vote)
    log_prior = np.log(np.maximum(estimate.class_prior, 1e-300))
    # Each vote's place in a draw's order comes from its image's and worker's keys, so a new
    # vote on one image leaves every other image's orders as they were.
    vote_keys = (
        _row_keys(matrix, rows)[items],
        stable_random.keys(matrix.workers)[matrix.worker_index[keep]],
    )
    out: list[list[np.ndarray]] = [[], [], [], [], []]
    for draw in range(draws):
        order = np.lexsort((stable_random.uniform(seed, draw, *vote_keys), items))
        sorted_items = items[order]
        cumulative = np.cumsum(per_vote[order], axis=0)
        starts = np.searchsorted(sorted_items, sorted_items, side="left")
        before = np.where(starts[:, None] > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
        within = cumulative - before
        size = np.arange(items.size) - starts + 1
        usable = size < n_total[sorted_items]
        if max_size is not None:
            usable &= size <= max_size
        used_items, used_size = sorted_items[usable], size[usable]
        weight = evidence_weight(used_size, estimate.item_correlation)[:, None]
        rest_weight = evidence_weight(n_total[used_items] - used_size, estimate.item_correlation)
        rest = totals[used_items] - within[usable]
        out[0].append(used_items)
        out[1].append(used_size)
        out[2].append(np.full(used_items.size, draw))
        out[3].append(softmax_rows(log_prior + weight * within[usable]))
        out[4].append(softmax_rows(log_prior + rest_weight[:, None] * rest))
    row, size, draw_index, prefix, rest_posterior = (np.concatenate(part) for part in out)
    return row, size, draw_index, prefix, rest_posterior


def fit_calibration(
    matrix: VoteMatrix,
    estimate: Estimate,
    *,
    seed_rows: np.ndarray | None = None,
    gold: Mapping[Hashable, Hashable] | None = None,
    max_size: int | None = None,
    draws: int = DRAWS,
    seed: int = 0,
    min_observations: float = MIN_OBSERVATIONS,
    level: float = CONFIDENCE,
    soft_reference: bool = True,
    reference_kind: str = "rest",
    method: str = "platt",
    min_images: int = MIN_REFERENCE_IMAGES,
) -> Calibration:
    """Calibration of ``estimate`` from the seed images (≥ 10 votes) and voted gold images.

    ``seed_rows`` defaults to every image with at least ``SEED_MIN_VOTES`` votes (excluding gold).
    """
    n_votes = matrix.votes_per_item()
    label_position = {label: index for index, label in enumerate(matrix.labels)}
    gold_rows_list, gold_labels_list = [], []
    if gold:
        item_position = {item: index for index, item in enumerate(matrix.items)}
        for item, label in gold.items():
            row = item_position.get(item)
            if row is not None and n_votes[row] >= 2 and label in label_position:
                gold_rows_list.append(row)
                gold_labels_list.append(label_position[label])
    gold_rows = np.array(gold_rows_list, dtype=np.int64)
    if seed_rows is None:
        seed_rows = np.flatnonzero(n_votes >= SEED_MIN_VOTES)
    seed_rows = np.setdiff1d(np.asarray(seed_rows, dtype=np.int64), gold_rows)
    seed_rows = seed_rows[n_votes[seed_rows] >= 2]
    reference = np.zeros((matrix.n_items, matrix.n_labels))
    if soft_reference:
        reference[seed_rows] = estimate.posterior[seed_rows]
    else:
        reference[seed_rows, estimate.posterior[seed_rows].argmax(axis=1)] = 1.0
    if gold_rows.size:
        reference[gold_rows, np.array(gold_labels_list, dtype=np.int64)] = 1.0
    if seed_rows.size + gold_rows.size > MAX_REFERENCE_IMAGES:
        # A random subset is plenty for the curve and keeps a synset whose every image has 10
        # votes within the recompute budget. Drawn per image (the images whose keys hash
        # lowest), so it is reproducible and one image more or less changes it by that image.
        gold_rows = stable_subset(matrix, gold_rows, MAX_REFERENCE_IMAGES, seed)
        room = MAX_REFERENCE_IMAGES - gold_rows.size
        seed_rows = stable_subset(matrix, seed_rows, room, seed)
    rows = np.concatenate([seed_rows, gold_rows])
    per_label: list[LabelCalibration | PlattCalibration | None] = [None] * matrix.n_labels
    if rows.size and estimate.confusion is not None:
        row, size, _, posterior, rest = prefix_posteriors(
            matrix, estimate, rows, draws=draws, max_size=max_size, seed=seed
        )
        best = posterior.argmax(axis=1)
        confidence = posterior[np.arange(best.size), best]
        right = reference[row, best]
        keep = np.ones(best.size, dtype=bool)
        if reference_kind == "rest":
            # A seed prefix is judged by the image's *other* votes, never by a verdict that
            # contains the prefix itself (which would make any prefix look right); prefixes
            # up to half the image's votes, so the judge has at least as many votes as the
            # judged. Against an independent, noisier judge, agreement understates accuracy.
            is_seed = np.isin(row, seed_rows)
            if soft_reference:
                judged = rest[np.arange(best.size), best]
            else:
                judged = (rest.argmax(axis=1) == best).astype(float)
            right = np.where(is_seed, judged, right)
            keep = ~is_seed | (2 * size <= n_votes[row])
        best, confidence, right, row = best[keep], confidence[keep], right[keep], row[keep]
        weight = np.full(best.size, 1.0 / draws)
        enough = [
            weight[best == label].sum() >= min_observations for label in range(matrix.n_labels)
        ]
        if method == "isotonic":
            for label in range(matrix.n_labels):
                mask = best == label
                if enough[label] and np.unique(row[mask]).size >= min_images:
                    per_label[label] = fit_label_calibration(
                        confidence[mask], right[mask], weight[mask], level=level
                    )
        elif np.unique(row).size >= min_images:
            fitted = fit_platt_calibration(
                confidence, right, weight, _row_keys(matrix, rows)[row], best,
                n_labels=matrix.n_labels, level=level, seed=seed,
            )  # fmt: skip
            per_label = [curve if enough[label] else None for label, curve in enumerate(fitted)]
    return Calibration(
        labels=matrix.labels,
        per_label=tuple(per_label),
        class_prior=estimate.class_prior,
        reference_images=int(seed_rows.size),
        gold_images=int(gold_rows.size),
    )


def established_workers(
    matrix: VoteMatrix,
    gold: Mapping[Hashable, Hashable] | None,
    *,
    min_answers: int = 20,
    min_accuracy: float = 0.95,
    level: float = CONFIDENCE,
) -> np.ndarray:
    """Workers whose accuracy on gold is established: ≥ ``min_answers`` gold answers and a
    Jeffreys lower bound of their gold accuracy ≥ ``min_accuracy``."""
    established = np.zeros(matrix.n_workers, dtype=bool)
    if not gold:
        return established
    truth = matrix.label_codes(gold)
    on_gold = truth[matrix.item_index] >= 0
    answers = np.bincount(matrix.worker_index[on_gold], minlength=matrix.n_workers)
    right = np.bincount(
        matrix.worker_index[on_gold],
        weights=(truth[matrix.item_index] == matrix.label_index)[on_gold].astype(float),
        minlength=matrix.n_workers,
    )
    lower = beta_distribution.ppf(1.0 - level, right + 0.5, answers - right + 0.5)
    established[(answers >= min_answers) & (np.nan_to_num(lower) >= min_accuracy)] = True
    return established


def vote_support(
    matrix: VoteMatrix,
    estimate: Estimate,
    *,
    established: np.ndarray | None = None,
    weight_of_established: int = 2,
) -> np.ndarray:
    """(items × labels) informative votes behind each label.

    A vote backs the label its worker's confusion makes most likely given that answer (an
    adversary's "no" backs "yes"), if the likelihood ratio against the next label is at least
    ``INFORMATIVE_RATIO``; a spammer's vote backs nothing. A worker established on gold counts
    ``weight_of_established`` times, so their single vote can meet the stopping rule's
    ``min_support``.
    """
    assert estimate.confusion is not None
    columns = estimate.confusion[matrix.worker_index, :, matrix.label_index]  # votes × true
    ordered = np.sort(columns, axis=1)
    informative = ordered[:, -1] >= INFORMATIVE_RATIO * np.maximum(ordered[:, -2], 1e-300)
    backed = columns.argmax(axis=1)
    weight = np.where(informative, 1.0, 0.0)
    if established is not None:
        weight = np.where(
            established[matrix.worker_index] & informative, weight_of_established, weight
        )
    support = np.zeros((matrix.n_items, matrix.n_labels))
    np.add.at(support, (matrix.item_index, backed), weight)
    return support


def reliability_table(
    confidence: np.ndarray,
    right: np.ndarray,
    *,
    edges: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0),
) -> list[dict[str, float | int]]:
    """Predicted probability bins vs observed accuracy (bins are [low, high), the last closed)."""
    rows: list[dict[str, float | int]] = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        mask = (confidence >= low) & ((confidence < high) | (high == edges[-1]))
        count = int(mask.sum())
        if count == 0:
            continue
        rows.append(
            {
                "low": low,
                "high": high,
                "n": count,
                "mean_predicted": round(float(confidence[mask].mean()), 4),
                "observed": round(float(right[mask].mean()), 4),
            }
        )
    return rows
