"""labeling/simulation.py and the simulate_crowd command: pure worker behaviour, truth loading,
and a simulated crowd labeling a project through the real HTTP API of a live server."""

from __future__ import annotations

import random
from statistics import mean

import pytest
from django.core.management import call_command

from candidates.models import Candidate
from labeling.models import AssignmentItem, Item, Vote
from labeling.simulation import (
    EASY_ACCURACY,
    HARD_ACCURACY,
    SimWorker,
    WorkerKind,
    crowd_accounts_create,
    crowd_make,
    crowd_run,
    hit_answers,
    hit_duration_ms,
    image_answer,
    synset_difficulty,
    truth_file_read,
    truth_load,
    worker_accuracy,
)
from synsets.models import SynsetClosure
from tests.factories import SynsetFactory, candidates_make, project_make

# -- pure behaviour ----------------------------------------------------------------------------


def test_crowd_make_mixes_kinds_by_fraction():
    crowd = crowd_make(workers=10, spammers=0.2, adversarial=0.1, rng=random.Random(1))

    kinds = [w.kind for w in crowd]
    assert kinds.count(WorkerKind.SPAMMER) == 2
    assert kinds.count(WorkerKind.ADVERSARIAL) == 1
    assert kinds.count(WorkerKind.HONEST) == 7
    assert [w.index for w in crowd] == list(range(10))


def test_crowd_make_gives_at_least_one_worker_of_a_requested_kind():
    crowd = crowd_make(workers=3, spammers=0.01, rng=random.Random(1))

    assert sum(w.kind == WorkerKind.SPAMMER for w in crowd) == 1


def test_crowd_make_rejects_fractions_over_one():
    with pytest.raises(ValueError, match="fractions"):
        crowd_make(workers=3, spammers=0.7, adversarial=0.5, rng=random.Random(1))


def test_deep_synsets_are_harder_than_shallow_ones():
    worker = SimWorker(index=0, kind=WorkerKind.HONEST)

    assert synset_difficulty(3) == 0.0
    assert synset_difficulty(40) == 1.0
    assert worker_accuracy(worker, synset_difficulty(7)) > worker_accuracy(
        worker, synset_difficulty(15)
    )
    assert worker_accuracy(worker, 0.0) == pytest.approx(EASY_ACCURACY)
    assert worker_accuracy(worker, 1.0) == pytest.approx(HARD_ACCURACY)


def _agreement(worker: SimWorker, difficulty: float, n: int = 4000) -> float:
    rng = random.Random(7)
    truths = [rng.random() < 0.5 for _ in range(n)]
    answers = [image_answer(worker, truth=t, difficulty=difficulty, rng=rng) for t in truths]
    return mean(a == t for a, t in zip(answers, truths, strict=True))


def test_honest_worker_matches_their_accuracy():
    worker = SimWorker(index=0, kind=WorkerKind.HONEST)

    assert _agreement(worker, 0.0) == pytest.approx(EASY_ACCURACY, abs=0.02)
    assert _agreement(worker, 1.0) == pytest.approx(HARD_ACCURACY, abs=0.03)


def test_spammer_answers_at_chance_and_adversary_flips():
    spammer = SimWorker(index=0, kind=WorkerKind.SPAMMER, spam_yes_rate=0.5)
    adversary = SimWorker(index=1, kind=WorkerKind.ADVERSARIAL)

    assert _agreement(spammer, 0.0) == pytest.approx(0.5, abs=0.03)
    assert _agreement(adversary, 0.0) == pytest.approx(1 - EASY_ACCURACY, abs=0.02)


def test_hit_answers_split_every_image_once():
    worker = SimWorker(index=0, kind=WorkerKind.HONEST)
    truth = {1: True, 2: False, 3: None, 4: True}

    selected, unselected = hit_answers(
        worker, item_ids=[1, 2, 3, 4], truth=truth, difficulty=0.0, rng=random.Random(3)
    )

    assert sorted(selected + unselected) == [1, 2, 3, 4]
    assert not set(selected) & set(unselected)


def test_spammers_report_faster_hits_than_honest_workers():
    rng = random.Random(2)
    honest = hit_duration_ms(SimWorker(0, WorkerKind.HONEST), images=24, rng=rng)
    spammer = hit_duration_ms(SimWorker(1, WorkerKind.SPAMMER), images=24, rng=rng)

    assert spammer < honest
    assert honest >= 24 * 600


def test_truth_file_accepts_both_layouts(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text(
        "candidate_id,label,image_url,wnid\n"
        "7,yes,,\n"
        "8,0,,\n"
        ",,https://x.org/a/n02085620_1.JPEG,n02085620\n"
    )

    by_candidate, by_url = truth_file_read(path)

    assert by_candidate == {7: True, 8: False}
    assert by_url["https://x.org/a/n02085620_1.JPEG"] == "n02085620"
    assert by_url["n02085620_1.JPEG"] == "n02085620"


def test_truth_file_with_an_unknown_header_is_refused(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("id,answer\n1,yes\n")

    with pytest.raises(ValueError, match="expected a header"):
        truth_file_read(path)


# -- truth through the ORM ---------------------------------------------------------------------


@pytest.mark.django_db
def test_truth_from_file_names_counts_descendants_as_positive():
    # given a project over a synset whose candidates are named by wnid (ImageNet file names)
    parent, child, other = SynsetFactory(), SynsetFactory(), SynsetFactory()
    SynsetClosure.objects.create(ancestor=parent, descendant=child, distance=1)
    from labeling.projects import project_create

    project = project_create(
        name="Truth from names", wnids=[parent.wnid], include_subtrees=False, add_candidates=False
    )
    names = [f"folder:{parent.wnid}_a.JPEG", f"folder:x/{child.wnid}_b.JPEG",
             f"folder:{other.wnid}_c.JPEG", "folder:no-wnid.jpg"]  # fmt: skip
    candidates = candidates_make(parent, len(names))
    for candidate, name in zip(candidates, names, strict=True):
        Candidate.objects.filter(pk=candidate.pk).update(image_url=name)
    items = [Item.objects.create(project=project, synset=parent, candidate=c) for c in candidates]

    # when
    truth = truth_load(project=project)

    # then
    assert [truth.labels[item.pk] for item in items] == [True, True, False, None]
    assert truth.known == 3


# -- the crowd against a live server -----------------------------------------------------------


@pytest.fixture
def small_project(transactional_db, tmp_path):
    """2 synsets × 30 images (8 gold each), 6 images + 2 gold per HIT, no automatic blocking so
    every worker keeps answering, and a truth file consistent with the gold labels."""
    project = project_make(
        synsets=2, images=30, gold=8, images_per_hit=6, gold_per_hit=2, min_votes=5,
        gold_block_below=0.0, name="Simulated",
    )  # fmt: skip
    rng = random.Random(5)
    rows = ["candidate_id,label"]
    for candidate_id, is_gold, gold_label in Item.objects.filter(project=project).values_list(
        "candidate_id", "is_gold", "gold_label"
    ):
        label = gold_label if is_gold else rng.random() < 0.4
        rows.append(f"{candidate_id},{int(label)}")
    truth_path = tmp_path / "truth.csv"
    truth_path.write_text("\n".join(rows) + "\n")
    return project, truth_path


@pytest.mark.slow
def test_simulated_crowd_labels_through_the_api(live_server, small_project):
    # given 5 workers, one of them a spammer
    project, truth_path = small_project
    crowd = [
        SimWorker(0, WorkerKind.HONEST), SimWorker(1, WorkerKind.HONEST, skill=0.02),
        SimWorker(2, WorkerKind.SPAMMER), SimWorker(3, WorkerKind.HONEST, skill=-0.02),
        SimWorker(4, WorkerKind.HONEST),
    ]  # fmt: skip
    credentials = crowd_accounts_create(crowd=crowd, prefix="simtest")
    truth = truth_load(project=project, truth_file=truth_path)

    # when they label through the live server's HTTP API
    report = crowd_run(
        project=project, crowd=crowd, credentials=credentials, truth=truth,
        base_url=live_server.url, hits_per_worker=6, seed=3, prefix="simtest",
    )  # fmt: skip

    # then every HIT was submitted without errors and the votes exist in the database
    assert report.errors == 0, [w.stopped for w in report.workers]
    assert report.hits == 30
    votes = Vote.objects.filter(worker__username__startswith="simtest-")
    # 6 images per HIT plus up to 2 gold ones the worker has not answered yet
    assert votes.count() == report.votes
    assert 30 * 6 < report.votes <= 30 * 8
    # every vote belongs to a real assignment of the same worker that held that image
    held = set(AssignmentItem.objects.values_list("assignment_id", "item_id"))
    for assignment_id, item_id, worker_id, owner_id in votes.values_list(
        "assignment_id", "item_id", "worker_id", "assignment__worker_id"
    ):
        assert (assignment_id, item_id) in held
        assert worker_id == owner_id
    # and the spammer's gold accuracy and agreement with the truth are the lowest
    by_kind = {w.username: w for w in report.workers}
    spammer = by_kind["simtest-002"]
    honest = [w for w in report.workers if w.kind == WorkerKind.HONEST]
    assert spammer.gold_accuracy < mean(w.gold_accuracy for w in honest)
    assert spammer.accuracy < min(w.accuracy for w in honest)
    assert all(w.accuracy > 0.8 for w in honest)


@pytest.mark.slow
def test_simulate_crowd_command_prints_a_summary(live_server, small_project, capsys):
    project, truth_path = small_project

    call_command(
        "simulate_crowd", "--project", project.slug, "--workers", "3", "--hits-per-worker", "2",
        "--spammers", "0.34", "--truth", str(truth_path), "--base-url", live_server.url,
    )  # fmt: skip

    out = capsys.readouterr().out
    assert "3 workers, 6 HITs," in out
    assert " 0 errors" in out
    assert "spammer" in out
    assert Vote.objects.filter(worker__username__startswith="sim-").count() >= 36
