"""How sure can a yes/no vote count ever make us? A Beta-binomial image model fitted on the seed
(and gold) images bounds the probability that an image's majority is right.

Votes on one image are not independent given its truth: some images are hard for everyone, and
on look-alikes most of the crowd errs the same way. No worker model sees that from the votes
alone, and calibration against the seed's own verdicts cannot either (a seed image the whole crowd
gets wrong looks like an easy one). Modelling it needs an assumption about how image difficulty
is spread, and we take the classic one: given the truth t, an image's chance p that a vote says
"yes" is Beta-distributed (one Beta per truth value), and its votes are binomial given p. The mix
of the two Betas is fitted by maximum likelihood on the seed images' vote counts (≥ 10 votes each;
gold images enter with their known truth); the Beta's tail beyond ½ is what predicts how often a
whole crowd is wrong. The resulting P(t | y yes, n no) ignores who voted, so it is used only as a
*ceiling* on the calibrated probability: a decision needs vote counts that this model, too, finds
convincing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, expit, logit

MIN_IMAGES = 20  # seed (+ gold) images needed to fit the ceiling


@dataclass(frozen=True)
class BetaBinomialCeiling:
    good_share: float
    alpha_good: float  # Beta of P(yes) on good images
    beta_good: float
    alpha_bad: float  # Beta of P(yes) on bad images
    beta_bad: float
    images: int

    def p_good(self, yes: np.ndarray, no: np.ndarray) -> np.ndarray:
        yes = np.asarray(yes, dtype=float)
        no = np.asarray(no, dtype=float)
        good = _log_bb(yes, no, self.alpha_good, self.beta_good)
        bad = _log_bb(yes, no, self.alpha_bad, self.beta_bad)
        return expit(logit(self.good_share) + good - bad)

    def as_dict(self) -> dict[str, float]:
        return {
            "good_share": round(self.good_share, 4),
            "yes_rate_good": round(self.alpha_good / (self.alpha_good + self.beta_good), 4),
            "yes_rate_bad": round(self.alpha_bad / (self.alpha_bad + self.beta_bad), 4),
            "concentration_good": round(self.alpha_good + self.beta_good, 3),
            "concentration_bad": round(self.alpha_bad + self.beta_bad, 3),
            "images": self.images,
        }


def _log_bb(yes: np.ndarray, no: np.ndarray, a: float, b: float) -> np.ndarray:
    """log P(yes, no | Beta(a, b)) for one particular order of the votes (the binomial
    coefficient is the same under both truths and cancels)."""
    return betaln(a + yes, b + no) - betaln(a, b)


def _unpack(theta: np.ndarray) -> tuple[float, float, float, float, float]:
    share = expit(theta[0])
    mean_good = 0.5 + 0.5 * expit(theta[1])  # a good image gets "yes" more than half the time
    mean_bad = 0.5 * expit(theta[2])
    strength_good, strength_bad = np.exp(theta[3]), np.exp(theta[4])
    return (
        share,
        mean_good * strength_good,
        (1 - mean_good) * strength_good,
        mean_bad * strength_bad,
        (1 - mean_bad) * strength_bad,
    )


def fit_ceiling(
    yes: np.ndarray,
    no: np.ndarray,
    *,
    truth: np.ndarray | None = None,
) -> BetaBinomialCeiling | None:
    """Fit on images' yes/no counts; ``truth`` (1 good, 0 bad, −1 unknown) for gold images.
    None when fewer than ``MIN_IMAGES`` images are given."""
    yes = np.asarray(yes, dtype=float)
    no = np.asarray(no, dtype=float)
    truth = np.full(yes.size, -1.0) if truth is None else np.asarray(truth, dtype=float)
    if yes.size < MIN_IMAGES:
        return None
    n_images = int(yes.size)
    majority = (yes > no).mean()
    # Vote counts repeat: fit on the distinct (yes, no, truth) triples with their multiplicity.
    triples, multiplicity = np.unique(np.c_[yes, no, truth], axis=0, return_counts=True)
    yes, no, truth = triples[:, 0], triples[:, 1], triples[:, 2]
    multiplicity = multiplicity.astype(float)
    start = np.array([logit(np.clip(majority, 0.05, 0.95)), 1.0, -1.0, np.log(10.0), np.log(10.0)])
    known_good, known_bad, unknown = truth == 1, truth == 0, truth < 0

    def negative_log_likelihood(theta: np.ndarray) -> float:
        share, a1, b1, a0, b0 = _unpack(theta)
        good = _log_bb(yes, no, a1, b1)
        bad = _log_bb(yes, no, a0, b0)
        mixed = np.logaddexp(np.log(share) + good, np.log1p(-share) + bad)
        total = (
            (multiplicity * mixed)[unknown].sum()
            + (multiplicity * good)[known_good].sum()
            + (multiplicity * bad)[known_bad].sum()
        )
        total += multiplicity[known_good].sum() * np.log(share)
        total += multiplicity[known_bad].sum() * np.log1p(-share)
        # A weak prior keeps the concentrations finite and the share away from 0 and 1.
        total += -0.5 * ((theta[3] - np.log(10.0)) ** 2 + (theta[4] - np.log(10.0)) ** 2) / 4.0
        total += np.log(share) + np.log1p(-share)
        return -float(total)

    result = minimize(negative_log_likelihood, start, method="L-BFGS-B")
    share, a1, b1, a0, b0 = _unpack(result.x)
    return BetaBinomialCeiling(float(share), a1, b1, a0, b0, n_images)
