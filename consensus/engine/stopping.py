"""The dynamic-consensus stopping rule (Deng et al. 2009 §3.2): keep asking for votes on an item
until its posterior is convincing either way, or until the per-item vote cap is reached."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from consensus.engine.types import Decision

# Integer codes of the vectorised rule, in the order of DECISIONS.
DECISIONS: tuple[Decision, ...] = (
    Decision.ACCEPT,
    Decision.REJECT,
    Decision.NEED_MORE,
    Decision.UNDECIDED,
)
ACCEPT, REJECT, NEED_MORE, UNDECIDED = range(4)


@dataclass(frozen=True)
class StoppingRule:
    """Accept when P(positive) ≥ τ, reject when P(positive) ≤ 1 − τ′, else ask again until the cap.

    τ and τ′ need not be equal, and for ImageNet they should not be: the precision of *accepted*
    images is the product's promise (99.7%), so τ is high, while a wrongly rejected image only
    costs recall in a pool of thousands of candidates, so τ′ may be modest and images that are
    probably bad stop early (see :func:`reject_threshold_for_costs`).

    With ``positive=None`` (multi-class projects) the item is decided (ACCEPT, meaning "the most
    probable label is settled") once its largest posterior reaches τ; REJECT is then never used.
    The paper gives no threshold: it is a per-project setting. Posteriors of a conditionally
    independent model are over-confident, so a precision target needs τ above that target.
    """

    accept_threshold: float = 0.99
    reject_threshold: float = 0.99
    max_votes: int = 10
    positive: Hashable | None = None
    min_votes: int = 1  # an item with fewer votes is never decided (its posterior is the prior)
    # Informative votes that must back the decided label (when the caller passes ``support``): no
    # decision rests on one worker's word unless that worker is established on gold.
    min_support: int = 2

    def __post_init__(self) -> None:
        for name in ("accept_threshold", "reject_threshold"):
            value = getattr(self, name)
            if not 0.5 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0.5, 1], got {value}")
        if self.max_votes < 1:
            raise ValueError("max_votes must be at least 1")
        if not 0 <= self.min_votes <= self.max_votes:
            raise ValueError("min_votes must lie in [0, max_votes]")
        if self.min_support < 0:
            raise ValueError("min_support must be at least 0")

    def decide(self, posterior: Mapping[Hashable, float], n_votes: int) -> Decision:
        labels = tuple(posterior)
        row = np.array([[posterior[label] for label in labels]], dtype=float)
        code = self.decide_many(row, np.array([n_votes]), labels=labels)[0]
        return DECISIONS[code]

    def decide_many(
        self,
        posterior: np.ndarray,
        n_votes: np.ndarray,
        *,
        labels: tuple[Hashable, ...],
        vote_limit: np.ndarray | None = None,
        support: np.ndarray | None = None,
    ) -> np.ndarray:
        """Decision codes for every row of an (items × labels) posterior.

        ``vote_limit`` lowers the cap per item (online replay: an item cannot get more votes than
        were collected for it in the archive). ``support`` (items × labels) counts the
        informative votes behind each label (:func:`consensus.engine.calibration.vote_support`);
        a label backed by fewer than ``min_support`` is not decided on.
        """
        cap = np.full(posterior.shape[0], self.max_votes)
        if vote_limit is not None:
            cap = np.minimum(cap, vote_limit)
        codes = np.full(posterior.shape[0], NEED_MORE, dtype=np.int8)
        if self.positive is None:
            accepted = posterior.max(axis=1) >= self.accept_threshold
            rejected = np.zeros_like(accepted)
            if support is not None:
                best = posterior.argmax(axis=1)
                accepted &= support[np.arange(best.size), best] >= self.min_support
        else:
            column = labels.index(self.positive)
            p_good = posterior[:, column]
            accepted = p_good >= self.accept_threshold
            rejected = ~accepted & (p_good <= 1.0 - self.reject_threshold)
            if support is not None:
                accepted &= support[:, column] >= self.min_support
                against = support.sum(axis=1) - support[:, column]
                rejected &= against >= self.min_support
        codes[n_votes >= cap] = UNDECIDED
        # A convincing posterior wins over the cap: the item is decided, not merely out of votes.
        codes[accepted] = ACCEPT
        codes[rejected] = REJECT
        # Below min_votes only the prior speaks (e.g. a rare class rejects every unseen image).
        codes[(n_votes < self.min_votes) & (n_votes < cap)] = NEED_MORE
        return codes


def reject_threshold_for_costs(
    *, false_reject_cost: float, vote_cost: float = 1.0, votes_to_settle: float = 2.0
) -> float:
    """τ′ from costs in votes: stop and reject once the expected loss of rejecting,
    P(good) × ``false_reject_cost``, is below the cost of the ``votes_to_settle`` further votes an
    uncertain image typically takes, i.e. reject when P(good) ≤ votes_to_settle·vote_cost / cost.

    In ImageNet's setting a wrongly rejected good image is replaced by another candidate, so its
    cost is the votes spent per *accepted* image (votes per candidate / good share). Clipped to
    [0.5, 1) because a reject threshold above ½ would reject images that are probably good.
    """
    if false_reject_cost <= 0 or vote_cost <= 0 or votes_to_settle <= 0:
        raise ValueError("costs must be positive")
    p_reject = votes_to_settle * vote_cost / false_reject_cost
    return float(np.clip(1.0 - p_reject, 0.5, 1.0 - 1e-9))
