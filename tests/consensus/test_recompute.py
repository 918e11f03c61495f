"""Consensus wiring: votes in the database → posteriors, decisions and votes_needed per image,
which the scheduler then follows (issue 5 §4)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from consensus.recompute import synset_recompute_consensus
from labeling.hits.scheduler import hit_next_for_worker
from labeling.hits.submission import assignment_submit
from labeling.models import Item, Project, ProjectSynset, Vote
from tests.factories import project_make


def _truth(project: Project) -> dict[int, bool]:
    ids = list(Item.objects.filter(project=project, is_gold=False).order_by("pk").values_list(
        "pk", flat=True))  # fmt: skip
    return {pk: index % 3 == 0 for index, pk in enumerate(ids)}


def _label_until_done(project: Project, workers, truth, *, wrong: set[int] = frozenset(),
                      recompute: bool = True, rounds: int = 40) -> int:  # fmt: skip
    """Workers take HITs and answer (worker ids in ``wrong`` flip every answer) until the
    scheduler has nothing left; returns the number of HITs."""
    hits = 0
    for _ in range(rounds):
        served = False
        for worker in workers:
            assignment = hit_next_for_worker(project=project, worker=worker)
            if assignment is None:
                continue
            served = True
            hits += 1
            item_ids = list(assignment.items.values_list("pk", flat=True))
            answer = {pk: truth.get(pk, False) != (worker.pk in wrong) for pk in item_ids}
            gold = dict(Item.objects.filter(pk__in=item_ids, is_gold=True).values_list(
                "pk", "gold_label"))  # fmt: skip
            answer.update({pk: label != (worker.pk in wrong) for pk, label in gold.items()})
            assignment_submit(
                assignment_id=assignment.pk, worker=worker,
                selected=[pk for pk, yes in answer.items() if yes],
                unselected=[pk for pk, yes in answer.items() if not yes],
                duration_ms=20_000,
            )  # fmt: skip
        if recompute:
            for project_synset in ProjectSynset.objects.filter(project=project):
                synset_recompute_consensus(project_synset_id=project_synset.pk)
        if not served:
            break
    return hits


def _workers(n: int):
    from labeling.roles import annotator_create

    return [annotator_create(username=f"w{i}", password=None) for i in range(n)]


@pytest.mark.django_db
def test_worker_em_decides_images_and_scheduler_stops_serving_them():
    # Decisions rest on calibrated probabilities: the seed images (10 votes each) and the gold
    # images are what the calibration learns from (without them nothing is certified above 0.9;
    # with this little of them, a 95% lower bound certifies ~0.92).
    project = project_make(images=32, gold=8, images_per_hit=8, gold_per_hit=2, seed_size=8,
                           seed_votes=10, min_votes=2, max_votes=6, accept_threshold=0.9,
                           reject_threshold=0.9)  # fmt: skip
    truth = _truth(project)
    _label_until_done(project, _workers(10), truth)

    items = Item.objects.filter(project=project, is_gold=False)
    assert not items.filter(state=Item.State.PENDING).exists()
    for item in items:
        if item.state == Item.State.ACCEPTED:
            assert truth[item.pk] and item.posterior >= 0.9
        elif item.state == Item.State.REJECTED:
            assert not truth[item.pk] and item.posterior <= 0.1
        assert item.votes_needed == 0
    assert items.filter(state=Item.State.ACCEPTED).count() == sum(truth.values())
    # Unanimous workers settle an image in fewer votes than the cap.
    assert Vote.objects.filter(item__project=project).count() < items.count() * 6
    project_synset = ProjectSynset.objects.get(project=project)
    assert project_synset.accepted_count == sum(truth.values())
    assert project_synset.recomputed_at and project_synset.difficulty is not None


@pytest.mark.django_db
def test_adversarial_worker_is_outvoted():
    project = project_make(images=24, images_per_hit=12, gold_per_hit=0, min_votes=3,
                           max_votes=7)  # fmt: skip
    truth = _truth(project)
    workers = _workers(6)
    _label_until_done(project, workers, truth, wrong={workers[0].pk})
    accepted = set(
        Item.objects.filter(project=project, state="accepted").values_list("pk", flat=True)
    )
    assert accepted <= {pk for pk, good in truth.items() if good}


@pytest.mark.django_db
def test_imagenet_table_method_builds_the_seed_table():
    project = project_make(images=30, images_per_hit=10, gold_per_hit=0, seed_size=10,
                           seed_votes=10, min_votes=1, max_votes=10,
                           consensus_method=Project.ConsensusMethod.IMAGENET_TABLE,
                           accept_threshold=0.9, reject_threshold=0.9)  # fmt: skip
    truth = _truth(project)
    _label_until_done(project, _workers(12), truth)
    project_synset = ProjectSynset.objects.get(project=project)
    table = project_synset.confidence_table
    assert table["max_votes"] == 10
    rows = {(yes, no): p for yes, no, p in table["rows"]}
    assert rows[(1, 0)] > rows[(0, 1)]
    assert rows[(2, 0)] >= rows[(1, 0)] and rows[(0, 2)] <= rows[(0, 1)]
    seeds = Item.objects.filter(project=project, is_seed=True)
    assert seeds.count() == 10
    for seed in seeds:
        assert Vote.objects.filter(item=seed).count() >= 10
    assert Item.objects.filter(project=project, state="accepted").exists()


@pytest.mark.django_db
def test_recompute_is_idempotent():
    project = project_make(images=12, images_per_hit=6, gold_per_hit=0)
    _label_until_done(project, _workers(3), _truth(project), rounds=2, recompute=False)
    project_synset = ProjectSynset.objects.get(project=project)
    first = synset_recompute_consensus(project_synset_id=project_synset.pk)
    second = synset_recompute_consensus(project_synset_id=project_synset.pk)
    assert first.votes == second.votes > 0
    assert second.changed == 0
    assert (first.accepted, first.rejected) == (second.accepted, second.rejected)


@pytest.mark.django_db
def test_a_nudged_posterior_is_kept_and_a_moved_one_rewritten():
    """A refit nudges posteriors in the last digits: an image whose state and votes needed stay
    keeps its stored posterior while it is within the tolerance of the new one."""
    from consensus.recompute import POSTERIOR_TOLERANCE

    project = project_make(images=12, images_per_hit=6, gold_per_hit=0)
    _label_until_done(project, _workers(3), _truth(project), rounds=2, recompute=False)
    project_synset = ProjectSynset.objects.get(project=project)
    synset_recompute_consensus(project_synset_id=project_synset.pk)
    items = Item.objects.filter(project=project, posterior__isnull=False).order_by("pk")
    exact = dict(items.values_list("pk", "posterior"))
    nudged, moved = list(exact)[:3], list(exact)[3:5]
    for pk in nudged:
        Item.objects.filter(pk=pk).update(posterior=_shifted(exact[pk], POSTERIOR_TOLERANCE / 2))
    for pk in moved:
        Item.objects.filter(pk=pk).update(posterior=_shifted(exact[pk], 3 * POSTERIOR_TOLERANCE))
    summary = synset_recompute_consensus(project_synset_id=project_synset.pk)
    assert summary.changed == len(moved)
    stored = dict(items.values_list("pk", "posterior"))
    assert all(stored[pk] == exact[pk] for pk in moved)
    assert all(stored[pk] != exact[pk] for pk in nudged)
    assert all(abs(stored[pk] - exact[pk]) < POSTERIOR_TOLERANCE for pk in exact)


def _shifted(p: float, by: float) -> float:
    return p - by if p > 0.5 else p + by


@pytest.mark.django_db
def test_excluded_votes_do_not_count():
    project = project_make(images=6, images_per_hit=6, gold_per_hit=0, min_votes=1)
    _label_until_done(project, _workers(2), _truth(project), rounds=1, recompute=False)
    Vote.objects.filter(item__project=project).update(status=Vote.Status.EXCLUDED)
    summary = synset_recompute_consensus(
        project_synset_id=ProjectSynset.objects.get(project=project).pk
    )
    assert summary.votes == 0
    assert not Item.objects.filter(project=project).exclude(state="pending").exists()


@pytest.mark.celery_worker
@pytest.mark.slow
def test_real_worker_recomputes_after_submissions(celery_worker_process):
    """Votes arrive through the service; the Celery worker recomputes the synset after commit;
    decided images are no longer served."""
    celery_worker_process()
    project = project_make(images=8, images_per_hit=8, gold_per_hit=0, min_votes=2,
                           max_votes=4, accept_threshold=0.9, reject_threshold=0.9)  # fmt: skip
    truth = _truth(project)
    workers = _workers(3)
    for worker in workers[:2]:
        with transaction.atomic():
            _label_until_done(project, [worker], truth, rounds=1, recompute=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not Item.objects.filter(project=project, state="pending").exists():
            break
        time.sleep(0.3)
    states = dict(Item.objects.filter(project=project).values_list("pk", "state"))
    assert all(state != "pending" for state in states.values()), states
    assert {pk for pk, s in states.items() if s == "accepted"} == {
        pk for pk, good in truth.items() if good
    }
    assert hit_next_for_worker(project=project, worker=workers[2]) is None
    assert get_user_model().objects.count() >= 3


@pytest.mark.django_db
def test_a_recompute_resumes_the_last_fit_until_the_synset_has_grown_a_tenth():
    from unittest import mock

    from consensus import recompute as recompute_module
    from consensus.engine.dynamic import decide_synset
    from consensus.models import MixtureState
    from consensus.recompute import RESUME_GROWTH

    # Six votes on every image (dense: sparse synsets always fit cold, see below).
    project = project_make(images=12, images_per_hit=6, gold_per_hit=0, seed_size=0,
                           min_votes=7, max_votes=10)  # fmt: skip
    truth = _truth(project)
    workers = _workers(7)
    _label_until_done(project, workers[:6], truth, rounds=3, recompute=False)
    project_synset = ProjectSynset.objects.get(project=project)
    first = synset_recompute_consensus(project_synset_id=project_synset.pk)
    state = MixtureState.objects.get(project_synset=project_synset)
    assert state.cold_votes == first.votes
    assert set(state.workers) == set(
        Vote.objects.filter(item__project=project).values_list("worker_id", flat=True)
    )
    assert all(0 <= r <= 1 for r in state.honest) and len(state.honest) == len(state.workers)

    # One more HIT, by a worker the last fit never saw: fewer votes than the growth that forces
    # a cold fit, so the recompute resumes (the cold fit's vote count stays).
    _label_until_done(project, workers[6:], truth, rounds=1, recompute=False)
    votes = Vote.objects.filter(item__project=project).count()
    assert first.votes < votes < RESUME_GROWTH * first.votes
    with mock.patch.object(recompute_module, "decide_synset", wraps=decide_synset) as decide:
        resumed = synset_recompute_consensus(project_synset_id=project_synset.pk)
    state.refresh_from_db()
    assert state.cold_votes == first.votes and workers[6].pk in state.workers
    # It resumed from the kept mixture and kept the workers model the cold fit chose.
    assert state.model == "workers"
    assert decide.call_args.kwargs["resume"].honest_share == pytest.approx(state.honest_share)
    assert decide.call_args.kwargs["choose_model"] is False
    decided = dict(Item.objects.filter(project=project).values_list("pk", "state"))

    # A cold fit of the same votes decides every image the same way.
    MixtureState.objects.filter(project_synset=project_synset).delete()
    with mock.patch.object(recompute_module, "decide_synset", wraps=decide_synset) as decide:
        cold = synset_recompute_consensus(project_synset_id=project_synset.pk)
    assert decide.call_args.kwargs["resume"] is None
    assert decide.call_args.kwargs["choose_model"] is True
    assert cold.changed == 0
    assert dict(Item.objects.filter(project=project).values_list("pk", "state")) == decided
    assert (cold.accepted, cold.rejected) == (resumed.accepted, resumed.rejected)
    assert MixtureState.objects.get(project_synset=project_synset).cold_votes == votes

    # Past the growth, the next recompute fits cold again.
    MixtureState.objects.filter(project_synset=project_synset).update(
        cold_votes=int(votes / RESUME_GROWTH)
    )
    synset_recompute_consensus(project_synset_id=project_synset.pk)
    assert MixtureState.objects.get(project_synset=project_synset).cold_votes == votes


@pytest.mark.django_db
def test_a_sparse_synset_is_always_fitted_cold():
    # Two votes per image: EM has several optima there, so a recompute never resumes (where a
    # start from the stored posteriors lands would depend on the history, not on the votes).
    from consensus.models import MixtureState

    project = project_make(images=30, images_per_hit=10, gold_per_hit=0, seed_size=0,
                           min_votes=2, max_votes=3)  # fmt: skip
    _label_until_done(project, _workers(2), _truth(project), rounds=3, recompute=False)
    project_synset = ProjectSynset.objects.get(project=project)
    first = synset_recompute_consensus(project_synset_id=project_synset.pk)
    MixtureState.objects.filter(project_synset=project_synset).update(cold_votes=first.votes - 1)
    again = synset_recompute_consensus(project_synset_id=project_synset.pk)
    assert again.changed == 0
    assert MixtureState.objects.get(project_synset=project_synset).cold_votes == first.votes
