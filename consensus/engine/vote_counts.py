"""How sure can a yes/no vote count ever make us? A binomial mixture fitted on the synset's voted
images bounds the probability that an image's majority is right.

Votes on one image are not independent given its truth: some images are hard for everyone, and
on look-alikes most of the crowd errs the same way. No worker model sees that from who voted, and
calibration against the seed's own verdicts cannot either (a seed image the whole crowd gets
wrong looks like an easy one). Modelling it needs an assumption about how image difficulty is
spread. Ours is the weakest we can fit: given the truth t, an image's chance p that an
(informative) vote says "yes" follows *some* distribution — on (½, 1) for good images, on (0, ½)
for bad ones — and its votes are binomial given p. Each distribution is estimated
nonparametrically, as weights on a grid of p (the Kiefer–Wolfowitz maximum-likelihood mixing
distribution, fitted by EM, with one pseudo-image spread over the grid so that no p is ruled out
for want of data). A single Beta per truth, the classic choice and this module's first version,
has one tail shape: it could not show a few per cent of look-alikes that draw "yes" a third of
the time beside a bulk of clear negatives, and over-certified 5 yes / 2 no. The grid shows
whatever mass the data put there.

Every voted image enters, not only the seed: the likelihood of the votes does not depend on the
rule that decided when to stop asking (the rule only looks at votes already given), so images
closed early still tell how votes spread, and images kept open because they drew dissent show the
tail. Gold images enter with their known truth. The resulting P(t | y yes, n no) ignores who
voted, so it is used only as a *ceiling* on the calibrated probability: a decision needs vote
counts that this model, too, finds convincing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit, logsumexp

MIN_IMAGES = 20  # voted images needed to fit the ceiling
GRID = 24  # grid points of p per truth value
PSEUDO_IMAGES = 1.0  # the Dirichlet smoothing of the grid weights, in images
MAX_ITERATIONS = 2000
TOLERANCE = 1e-7  # stop when the log-likelihood gains less than this per image
_P_BAD = (np.arange(GRID) + 0.5) / (2 * GRID)  # midpoints of (0, ½)
_P_GOOD = 0.5 + _P_BAD  # midpoints of (½, 1)


@dataclass(frozen=True)
class VoteCountCeiling:
    good_share: float
    log_weights_good: np.ndarray  # over _P_GOOD
    log_weights_bad: np.ndarray  # over _P_BAD
    images: int

    def p_good(self, yes: np.ndarray, no: np.ndarray) -> np.ndarray:
        yes = np.asarray(yes, dtype=float)
        no = np.asarray(no, dtype=float)
        # A synset's images share a few dozen distinct (yes, no) counts: compute each once.
        # (One complex number per pair: a flat unique is several times faster than a row-wise one.)
        pairs, inverse = np.unique(yes.ravel() + 1j * no.ravel(), return_inverse=True)
        good = _log_mixture(pairs.real, pairs.imag, _P_GOOD, self.log_weights_good)
        bad = _log_mixture(pairs.real, pairs.imag, _P_BAD, self.log_weights_bad)
        return expit(logit(self.good_share) + good - bad)[inverse.ravel()].reshape(yes.shape)

    def as_dict(self) -> dict[str, float]:
        weights_good, weights_bad = np.exp(self.log_weights_good), np.exp(self.log_weights_bad)
        return {
            "good_share": round(self.good_share, 4),
            "yes_rate_good": round(float(weights_good @ _P_GOOD), 4),
            "yes_rate_bad": round(float(weights_bad @ _P_BAD), 4),
            # How much of each truth's mass lies in its half's inner fifth (p within 0.1 of ½):
            # the share of images on which the crowd comes close to a coin toss.
            "near_half_good": round(float(weights_good[_P_GOOD < 0.6].sum()), 4),
            "near_half_bad": round(float(weights_bad[_P_BAD > 0.4].sum()), 4),
            "images": self.images,
        }


def _log_binomial(yes: np.ndarray, no: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(rows × grid) log P(one particular order of the votes | p); the binomial coefficient is
    the same under both truths and cancels."""
    return yes[:, None] * np.log(p)[None, :] + no[:, None] * np.log1p(-p)[None, :]


def _log_mixture(yes: np.ndarray, no: np.ndarray, p: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    return logsumexp(_log_binomial(yes, no, p) + log_w[None, :], axis=1)


def fit_ceiling(
    yes: np.ndarray,
    no: np.ndarray,
    *,
    truth: np.ndarray | None = None,
) -> VoteCountCeiling | None:
    """Fit on images' yes/no counts; ``truth`` (1 good, 0 bad, −1 unknown) for gold images.
    None when fewer than ``MIN_IMAGES`` images have a vote."""
    yes = np.asarray(yes, dtype=float)
    no = np.asarray(no, dtype=float)
    truth = np.full(yes.size, -1.0) if truth is None else np.asarray(truth, dtype=float)
    voted = yes + no > 0
    yes, no, truth = yes[voted], no[voted], truth[voted]
    if yes.size < MIN_IMAGES:
        return None
    n_images = int(yes.size)
    # Vote counts repeat: fit on the distinct (yes, no, truth) triples with their multiplicity.
    triples, multiplicity = np.unique(np.c_[yes, no, truth], axis=0, return_counts=True)
    yes, no, truth = triples[:, 0], triples[:, 1], triples[:, 2]
    multiplicity = multiplicity.astype(float)
    # One grid of 2·GRID points: the bad half first. A gold image may only sit on its own half.
    log_lik = _log_binomial(yes, no, np.r_[_P_BAD, _P_GOOD])
    log_lik[truth == 1, :GRID] = -np.inf
    log_lik[truth == 0, GRID:] = -np.inf
    # The likelihoods do not change between EM steps, only the weights: scale each row once and
    # iterate on plain products.
    row_max = log_lik.max(axis=1)
    likelihood = np.exp(log_lik - row_max[:, None])
    weights = np.full(2 * GRID, 1.0 / (2 * GRID))
    previous = -np.inf
    for _ in range(MAX_ITERATIONS):
        per_row = likelihood @ weights
        total = float(multiplicity @ np.log(per_row))
        # Each grid point's expected count of images: Σ_rows m · L · w / (L @ w), as one product.
        weights = weights * ((multiplicity / per_row) @ likelihood) + PSEUDO_IMAGES / (2 * GRID)
        weights /= weights.sum()
        if total - previous < TOLERANCE * n_images:
            break
        previous = total
    share = float(np.clip(weights[GRID:].sum(), 1e-3, 1 - 1e-3))
    good, bad = weights[GRID:], weights[:GRID]
    return VoteCountCeiling(
        good_share=share,
        log_weights_good=np.log(good / good.sum()),
        log_weights_bad=np.log(bad / bad.sum()),
        images=n_images,
    )
