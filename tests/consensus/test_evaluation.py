"""Offline scores and the online replay on a small CSV archive written to tmp_path."""

from __future__ import annotations

import numpy as np
import pytest

from consensus.engine.evaluation import (
    consensus_report,
    load_truth,
    load_votes,
    replay_online,
    reveal_order,
    score,
)


@pytest.fixture
def archive(tmp_path):
    """200 items × 10 votes: two careful workers, a spammer and seven so-so workers."""
    rng = np.random.default_rng(0)
    truth = {f"i{n}": str(int(rng.random() < 0.4)) for n in range(200)}
    accuracy = {"c1": 0.97, "c2": 0.97, "spam": 0.5, **{f"m{k}": 0.7 for k in range(7)}}
    lines = ["item,worker,label"]
    for item, label in truth.items():
        for worker, p in accuracy.items():
            answer = label if rng.random() < p else str(1 - int(label))
            lines.append(f"{item},{worker},{answer}")
    votes = tmp_path / "votes.csv"
    votes.write_text("\n".join(lines) + "\n")
    truth_file = tmp_path / "truth.csv"
    truth_file.write_text("item,label\n" + "".join(f"{i},{lab}\n" for i, lab in truth.items()))
    return votes, truth_file


def test_loaders_read_the_crowd_format(archive):
    matrix = load_votes(archive[0])
    assert matrix.n_items == 200
    assert matrix.n_votes == 2000
    assert matrix.labels == ("0", "1")
    assert len(load_truth(archive[1])) == 200


def test_loader_rejects_a_file_without_the_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="missing"):
        load_votes(bad)


def test_score_counts_accuracy_and_per_class_precision_recall(archive):
    matrix = load_votes(archive[0])
    truth = {"i0": "0", "i1": "1"}
    predicted = np.zeros(matrix.n_items, dtype=int)
    scores = score(matrix, predicted, truth)
    assert scores.n_items == 2
    assert scores.accuracy == 0.5
    assert scores.per_class["0"] == {"precision": 0.5, "recall": 1.0, "support": 1}
    assert scores.per_class["1"]["recall"] == 0.0


def test_report_puts_the_model_next_to_the_baselines(archive):
    report = consensus_report(*archive, method="model", seed=1)
    assert set(report["baselines"]) == {"mv", "ds"}
    # Weighting the two careful workers beats counting heads.
    assert report["accuracy"] > report["baselines"]["mv"]["accuracy"] + 0.02
    assert report["accuracy"] >= report["baselines"]["ds"]["accuracy"] - 0.01
    assert "replay" not in report


def test_reveal_order_ranks_each_items_votes_from_zero(archive):
    matrix = load_votes(archive[0])
    rank = reveal_order(matrix, seed=3)
    for item in range(matrix.n_items):
        assert sorted(rank[matrix.item_index == item].tolist()) == list(range(10))
    assert not np.array_equal(rank, reveal_order(matrix, seed=4))


def test_replay_stops_early_and_keeps_accuracy(archive):
    matrix = load_votes(archive[0])
    truth = load_truth(archive[1])
    replay = replay_online(matrix, truth, "model", threshold=0.9, max_votes=10, seed=0)
    all_votes_majority = consensus_report(*archive)["baselines"]["mv"]["accuracy"]
    assert replay.seed_items == 50  # 500 of the 2,000 votes go to the seed
    assert replay.vote_fraction < 0.85
    assert replay.mean_votes == pytest.approx(replay.vote_fraction * 10)
    assert replay.scores.accuracy >= all_votes_majority
    # Decided at the moment they were decided: as precise as the threshold promised.
    assert replay.at_decision["decided"] > 50
    assert replay.at_decision["precision"] >= 0.9
    assert set(replay.at_decision["per_label"]) == {"0", "1"}


def test_replay_reports_a_reliability_table(archive):
    replay = replay_online(
        load_votes(archive[0]), load_truth(archive[1]), "model", threshold=0.95, max_votes=10
    )
    assert replay.reliability
    assert sum(row["n"] for row in replay.reliability) == 150  # every non-seed item, once
    for row in replay.reliability:
        assert row["low"] <= row["mean_predicted"] <= row["high"]
        assert 0.0 <= row["observed"] <= 1.0


def test_replay_gold_calibrates_without_a_seed_and_is_never_scored(archive):
    """Without a seed set, the calibration waits for images that reach 10 votes; gold items with
    their truth give it data from the start, so images are decided on fewer votes. Gold items
    are neither decided nor scored."""
    matrix, truth = load_votes(archive[0]), load_truth(archive[1])
    settings = {"threshold": 0.95, "max_votes": 10, "seed": 0, "seed_size": 0}
    without = replay_online(matrix, truth, "model", **settings)
    assert without.gold_items == 0
    with_gold = replay_online(matrix, truth, "model", **settings, gold_size=40)
    assert with_gold.gold_items == 40 and with_gold.seed_items == 0
    # Without gold nothing is decided before its tenth vote (84 or 139 images, depending on
    # whether the positives' curve certifies .95 from the images that reached ten); with gold,
    # 133 are decided on 6.3 votes per image.
    assert without.mean_votes == pytest.approx(10.0)
    assert with_gold.at_decision["decided"] >= 120
    assert with_gold.mean_votes < without.mean_votes - 2
    assert with_gold.at_decision["per_label"]["1"]["decided"] > 0
    assert with_gold.at_decision["precision"] >= 0.95
    # Every item closes once, gold excepted.
    assert sum(row["n"] for row in with_gold.reliability) == 200 - 40


def test_majority_replay_does_not_decide_on_one_vote(archive):
    """A single vote gives majority vote 2/3, not certainty: a fair baseline."""
    matrix = load_votes(archive[0])
    replay = replay_online(matrix, load_truth(archive[1]), "mv", threshold=0.7, max_votes=10)
    assert replay.mean_votes > 1.5


def test_replay_respects_the_vote_cap(archive):
    matrix = load_votes(archive[0])
    replay = replay_online(
        matrix, load_truth(archive[1]), "model", threshold=1.0, max_votes=3, seed_size=0
    )
    assert replay.mean_votes == pytest.approx(3.0)
    assert replay.rounds == 3


def test_report_in_replay_mode_has_mean_votes(archive):
    report = consensus_report(*archive, method="ds", replay=True, threshold=0.95, max_votes=5)
    assert 1.0 <= report["replay"]["mean_votes_per_item"] <= 5.0
    assert set(report["baselines"]) == {"mv"}


def test_unknown_method_is_refused(archive):
    with pytest.raises(ValueError, match="unknown method"):
        consensus_report(*archive, method="glad")
