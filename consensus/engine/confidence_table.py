"""ImageNet's per-synset confidence table P(good image | yes votes, no votes), estimated from a
seed set with at least 10 votes per image (Deng et al. 2009 §3.2, Fig. 7), and its stopping rule.

How the table is estimated (the paper only says "from the seed data"):

1. each seed image's truth is the majority of all its (≥ 10) votes, ties counting ½ — or a
   caller-supplied soft truth, e.g. an EM posterior;
2. cell (y, n) averages that truth over every way of drawing y yes and n no votes out of an image's
   votes, each image weighted by the hypergeometric probability of that draw. This is the exact
   expectation of "take subsamples of the seed votes", with no Monte-Carlo noise;
3. a Beta prior worth ``prior_strength`` images, centred on the independent-votes estimate
   (seed share of good images, one vote accuracy for all), smooths cells that few seed images
   reach, keeping every P strictly inside (0, 1);
4. a weighted 2-D isotonic projection (Dykstra's algorithm over rows and columns, each solved by
   pool-adjacent-violators) makes P non-decreasing in yes votes and non-increasing in no votes,
   which sampling noise otherwise breaks in sparse cells.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, gammaln, logit

from consensus.engine.types import Decision, Vote

SEED_MIN_VOTES = 10  # Deng et al. 2009 §3.2: "at least 10 users are asked to vote" on each


@dataclass(frozen=True)
class ConfidenceTable:
    """``p_good[y, n]`` for y + n ≤ ``max_votes``; NaN outside that triangle."""

    p_good: np.ndarray
    support: np.ndarray  # expected number of seed images behind each cell
    max_votes: int
    good_share: float  # share of good images among the seed

    def p(self, yes: int, no: int) -> float:
        if yes < 0 or no < 0 or yes + no > self.max_votes:
            raise ValueError(f"({yes}, {no}) is outside a table built for {self.max_votes} votes")
        return float(self.p_good[yes, no])

    def decide(
        self,
        yes: int,
        no: int,
        *,
        accept_threshold: float = 0.99,
        reject_threshold: float = 0.99,
        max_votes: int | None = None,
    ) -> Decision:
        """Deng et al. 2009 §3.2: ask again until P(good) ≥ τ or P(good) ≤ 1 − τ′, or the cap."""
        cap = self.max_votes if max_votes is None else min(max_votes, self.max_votes)
        p_good = self.p(yes, no)
        if p_good >= accept_threshold:
            return Decision.ACCEPT
        if p_good <= 1.0 - reject_threshold:
            return Decision.REJECT
        return Decision.UNDECIDED if yes + no >= cap else Decision.NEED_MORE

    def rows(self, max_total: int = 3) -> list[tuple[int, int, float]]:
        """(yes, no, P(good)) for cells with 1..``max_total`` votes, as in the paper's Fig. 7."""
        return [
            (yes, total - yes, round(float(self.p_good[yes, total - yes]), 2))
            for total in range(1, min(max_total, self.max_votes) + 1)
            for yes in range(total, -1, -1)
        ]

    def render(self, max_total: int = 3, *, title: str = "P(good)") -> str:
        lines = [f"yes  no  {title}"]
        lines += [f"{yes:>3} {no:>3}  {p:.2f}" for yes, no, p in self.rows(max_total)]
        return "\n".join(lines)

    @property
    def semantic_difficulty(self) -> float:
        """1 − (P(good | 1 yes) − P(good | 1 no)): how little one vote tells (cat 0.22, Burmese
        cat 0.54 in Fig. 7); 1 means a single vote carries no information."""
        return float(1.0 - (self.p_good[1, 0] - self.p_good[0, 1]))

    def reaches(self, accept_threshold: float) -> bool:
        """False flags a synset hard to illustrate: no vote pattern ever convinces the table."""
        return bool(np.nanmax(self.p_good) >= accept_threshold)


def majority_truth(yes: np.ndarray, no: np.ndarray) -> np.ndarray:
    """Seed truth from all of an image's votes: 1 if more yes, 0 if more no, ½ on a tie."""
    return np.where(yes > no, 1.0, np.where(yes < no, 0.0, 0.5))


def _log_comb(n: np.ndarray, k: int) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def build_confidence_table(
    seed_yes: Sequence[int] | np.ndarray,
    seed_no: Sequence[int] | np.ndarray,
    *,
    max_votes: int | None = None,
    truth: Sequence[float] | np.ndarray | None = None,
    prior_strength: float = 2.0,
) -> ConfidenceTable:
    """Estimate the table from each seed image's yes/no vote counts (steps 1–4 of the module)."""
    yes = np.asarray(seed_yes, dtype=float)
    no = np.asarray(seed_no, dtype=float)
    if yes.size == 0:
        raise ValueError("the seed set is empty")
    total = yes + no
    if max_votes is None:
        max_votes = int(total.min())
    p_true = majority_truth(yes, no) if truth is None else np.asarray(truth, dtype=float)
    good_share = float(np.clip(p_true.mean(), 1e-3, 1 - 1e-3))

    size = max_votes + 1
    weighted_truth = np.zeros((size, size))
    weight = np.zeros((size, size))
    for n_yes in range(size):
        for n_no in range(size - n_yes):
            drawn = n_yes + n_no
            possible = (yes >= n_yes) & (no >= n_no) & (total >= drawn)
            if not possible.any():
                continue
            y, n, t = yes[possible], no[possible], total[possible]
            # Hypergeometric probability that `drawn` of the image's votes hold n_yes yes.
            draw = np.exp(_log_comb(y, n_yes) + _log_comb(n, n_no) - _log_comb(t, drawn))
            weight[n_yes, n_no] = draw.sum()
            weighted_truth[n_yes, n_no] = (draw * p_true[possible]).sum()

    # Prior mean of a cell: the independent-votes model with one accuracy for every vote. It is
    # wrong for multi-vote cells (Fig. 7), which is why it only weighs `prior_strength` images;
    # a flat prior at the good share would instead drag the rarely reached unanimous cells
    # towards the base rate and, through the monotone projection, cap the whole table.
    vote_accuracy = float(
        np.clip(((yes * p_true + no * (1.0 - p_true)).sum()) / total.sum(), 0.5, 0.999)
    )
    margin = np.subtract.outer(np.arange(size), np.arange(size))
    prior_mean = expit(logit(good_share) + margin * logit(vote_accuracy))
    smoothed_weight = weight + prior_strength
    smoothed = (weighted_truth + prior_strength * prior_mean) / smoothed_weight
    inside = np.add.outer(np.arange(size), np.arange(size)) <= max_votes
    # Clipping keeps P strictly inside (0, 1) in floating point and preserves monotonicity.
    p_good = np.clip(_monotone_projection(smoothed, smoothed_weight, inside), 1e-6, 1 - 1e-6)
    p_good[~inside] = np.nan
    support = np.where(inside, weight, np.nan)
    return ConfidenceTable(
        p_good=p_good, support=support, max_votes=max_votes, good_share=good_share
    )


def _pool_adjacent_violators(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit of a 1-D sequence."""
    block_values: list[float] = []
    block_weights: list[float] = []
    block_sizes: list[int] = []
    for value, w in zip(values.tolist(), weights.tolist(), strict=True):
        block_values.append(value)
        block_weights.append(w)
        block_sizes.append(1)
        while len(block_values) > 1 and block_values[-2] > block_values[-1]:
            w_last, w_prev = block_weights.pop(), block_weights[-1]
            v_last = block_values.pop()
            block_values[-1] = (block_values[-1] * w_prev + v_last * w_last) / (w_prev + w_last)
            block_weights[-1] = w_prev + w_last
            size_last = block_sizes.pop()
            block_sizes[-1] += size_last
    return np.repeat(block_values, block_sizes)


def _monotone_projection(
    values: np.ndarray, weights: np.ndarray, inside: np.ndarray, *, sweeps: int = 200
) -> np.ndarray:
    """Weighted projection onto "up in yes (axis 0), down in no (axis 1)" by Dykstra's algorithm,
    which alternates the two exact 1-D projections and converges to the 2-D one."""
    size = values.shape[0]
    current = np.where(inside, values, 0.0)
    correction_rows = np.zeros_like(current)
    correction_cols = np.zeros_like(current)
    for _ in range(sweeps):
        before = current.copy()
        # Rows: fixed no count, P non-decreasing in yes.
        shifted = current + correction_rows
        projected = shifted.copy()
        for n_no in range(size):
            length = size - n_no
            projected[:length, n_no] = _pool_adjacent_violators(
                shifted[:length, n_no], weights[:length, n_no]
            )
        correction_rows = shifted - projected
        current = projected
        # Columns: fixed yes count, P non-increasing in no (fit the reversed sequence upwards).
        shifted = current + correction_cols
        projected = shifted.copy()
        for n_yes in range(size):
            length = size - n_yes
            projected[n_yes, :length] = _pool_adjacent_violators(
                shifted[n_yes, :length][::-1], weights[n_yes, :length][::-1]
            )[::-1]
        correction_cols = shifted - projected
        current = projected
        if np.abs(current - before)[inside].max() < 1e-10:
            break
    return current


def seed_sample(candidates: Sequence[Hashable], *, size: int, seed: int) -> list[Hashable]:
    """Deng et al. 2009 §3.2 step 1: the initial random subset of a synset's candidates."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(candidates), size=min(size, len(candidates)), replace=False)
    return [candidates[index] for index in sorted(chosen.tolist())]


def confidence_table_from_votes(
    votes: Iterable[Vote],
    *,
    positive: Hashable,
    min_votes: int = SEED_MIN_VOTES,
    prior_strength: float = 2.0,
) -> ConfidenceTable:
    """Build the table from the seed images' raw votes; images with < ``min_votes`` are ignored."""
    yes_by_item: dict[Hashable, int] = defaultdict(int)
    no_by_item: dict[Hashable, int] = defaultdict(int)
    for vote in votes:
        if vote.label == positive:
            yes_by_item[vote.item] += 1
        else:
            no_by_item[vote.item] += 1
    items = [
        item
        for item in {*yes_by_item, *no_by_item}
        if yes_by_item[item] + no_by_item[item] >= min_votes
    ]
    if not items:
        raise ValueError(f"no seed image has at least {min_votes} votes")
    return build_confidence_table(
        [yes_by_item[item] for item in items],
        [no_by_item[item] for item in items],
        max_votes=min_votes,
        prior_strength=prior_strength,
    )
