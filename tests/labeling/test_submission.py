"""labeling/hits/submission.py: votes, idempotency, validation, expiry, gold and blocking."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from labeling.hits.scheduler import hit_next_for_worker, leases_expire
from labeling.hits.submission import (
    AlreadySubmittedDifferently,
    AssignmentNotFound,
    InvalidItems,
    LeaseExpired,
    assignment_submit,
)
from labeling.models import Assignment, Item, ProjectSynset, Vote, WorkerProfile
from labeling.roles import annotator_create
from tests.factories import project_make


def _ids(assignment) -> list[int]:
    return sorted(assignment.assignment_items.values_list("item_id", flat=True))


def _submit(assignment, worker, selected, duration_ms=20_000):
    ids = _ids(assignment)
    return assignment_submit(
        assignment_id=assignment.pk,
        worker=worker,
        selected=list(selected),
        unselected=[i for i in ids if i not in set(selected)],
        duration_ms=duration_ms,
    )


@pytest.mark.django_db
def test_submit_records_votes_and_updates_counts(annotator, django_capture_on_commit_callbacks):
    project = project_make(images=10, images_per_hit=4, min_votes=2)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    ids = _ids(assignment)

    with django_capture_on_commit_callbacks(execute=True):
        result = _submit(assignment, annotator, selected=ids[:2])

    assert result.votes_recorded == 4 and result.counted
    assert result.reward_cents == project.reward_cents_per_hit
    votes = dict(Vote.objects.filter(assignment=assignment).values_list("item_id", "label"))
    assert votes == {ids[0]: True, ids[1]: True, ids[2]: False, ids[3]: False}
    items = {i.pk: i for i in Item.objects.filter(pk__in=ids)}
    assert [items[i].yes_votes for i in ids] == [1, 1, 0, 0]
    assert [items[i].no_votes for i in ids] == [0, 0, 1, 1]
    assert all(items[i].votes_needed == 1 and items[i].active_leases == 0 for i in ids)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED and assignment.duration_ms == 20_000
    # The recompute task ran eagerly (no broker needed): counts written, flag cleared... or the
    # broker is unreachable and the flag stays for the sweep. Either way the row was touched.
    project_synset = ProjectSynset.objects.get(project=project, synset_id=assignment.synset_id)
    assert project_synset.needs_recompute or project_synset.recomputed_at is not None


@pytest.mark.django_db
def test_resubmission_is_idempotent(annotator):
    project = project_make(images=10, images_per_hit=4)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    first = _submit(assignment, annotator, selected=_ids(assignment)[:1])

    again = _submit(assignment, annotator, selected=_ids(assignment)[:1])

    assert again == first
    assert Vote.objects.filter(assignment=assignment).count() == 4


@pytest.mark.django_db
def test_resubmission_with_other_answers_is_refused(annotator):
    project = project_make(images=10, images_per_hit=4)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    _submit(assignment, annotator, selected=[])

    with pytest.raises(AlreadySubmittedDifferently):
        _submit(assignment, annotator, selected=_ids(assignment))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda ids: (ids[:1], ids[2:]),  # one image missing
        lambda ids: (ids[:2], ids[1:]),  # one image in both lists
        lambda ids: (ids[:1] + [999_999_999], ids[1:]),  # a foreign image
        lambda ids: (ids[:1] + ids[:1], ids[1:]),  # a duplicate
    ],
)
@pytest.mark.django_db
def test_submission_must_split_exactly_the_hits_images(annotator, mangle):
    project = project_make(images=10, images_per_hit=4)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    selected, unselected = mangle(_ids(assignment))

    with pytest.raises(InvalidItems):
        assignment_submit(
            assignment_id=assignment.pk, worker=annotator, selected=selected,
            unselected=unselected, duration_ms=5000,
        )  # fmt: skip
    assert not Vote.objects.exists()


@pytest.mark.django_db
def test_another_workers_assignment_is_not_found(annotator):
    project = project_make(images=10, images_per_hit=4)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    intruder = annotator_create(username="intruder", password=None)

    with pytest.raises(AssignmentNotFound):
        _submit(assignment, intruder, selected=[])


@pytest.mark.django_db
def test_expired_lease_is_accepted_while_votes_are_still_needed(annotator):
    project = project_make(images=4, images_per_hit=4, min_votes=2)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    Assignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=5)
    )
    leases_expire()

    result = _submit(assignment, annotator, selected=[])

    assert result.votes_recorded == 4
    # The lease was already released by the expiry: no double decrement.
    assert set(Item.objects.values_list("active_leases", "votes_needed")) == {(0, 1)}


@pytest.mark.django_db
def test_expired_lease_is_rejected_when_votes_are_no_longer_needed(annotator):
    project = project_make(images=4, images_per_hit=4, min_votes=1)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    Assignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=5)
    )
    leases_expire()
    other = annotator_create(username="other", password=None)
    _submit(hit_next_for_worker(project=project, worker=other), other, selected=[])

    with pytest.raises(LeaseExpired):
        _submit(assignment, annotator, selected=[])
    assert not Vote.objects.filter(worker=annotator).exists()


@pytest.mark.django_db
def test_gold_answers_update_smoothed_accuracy(annotator):
    project = project_make(images=20, gold=4, images_per_hit=4, gold_per_hit=2)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    rows = list(assignment.assignment_items.select_related("item"))
    # Answer gold correctly, everything else "yes".
    selected = [r.item_id for r in rows if not r.is_gold or r.item.gold_label]

    _submit(assignment, annotator, selected=selected)

    profile = WorkerProfile.objects.get(user=annotator)
    assert (profile.gold_correct, profile.gold_total) == (2, 2)
    assert profile.gold_accuracy == pytest.approx((0.5 + 2) / (1 + 2))


@pytest.mark.django_db
def test_worker_below_gold_threshold_is_blocked_and_their_votes_excluded(
    annotator, django_capture_on_commit_callbacks
):
    # Given a project that blocks below 0.6 after 4 gold answers, and an honest worker's vote
    project = project_make(
        images=40, gold=10, images_per_hit=4, gold_per_hit=2, gold_min_answers=4, min_votes=2
    )
    honest = annotator_create(username="honest", password=None)
    # When the annotator answers every gold image wrongly over two HITs
    touched: set[int] = set()
    result = None
    for _ in range(2):
        assignment = hit_next_for_worker(project=project, worker=annotator)
        rows = list(assignment.assignment_items.select_related("item"))
        touched |= {r.item_id for r in rows if not r.is_gold}
        wrong = [r.item_id for r in rows if r.is_gold and not r.item.gold_label]
        # (the votes are withdrawn once the submission has committed)
        with django_capture_on_commit_callbacks(execute=True):
            result = _submit(assignment, annotator, selected=wrong)
    # Then they are blocked, their votes are excluded and the images need votes again
    profile = WorkerProfile.objects.get(user=annotator)
    assert profile.blocked and "gold accuracy" in profile.blocked_reason
    assert result.blocked
    assert not Vote.objects.filter(worker=annotator, status=Vote.Status.CONFIRMED).exists()
    for item in Item.objects.filter(pk__in=touched):
        assert (item.yes_votes, item.no_votes, item.votes_needed) == (0, 0, 2)
    assert hit_next_for_worker(project=project, worker=annotator) is None
    # And another worker can get those images
    assert set(_ids(hit_next_for_worker(project=project, worker=honest))) & touched


@pytest.mark.django_db
def test_a_lost_after_commit_withdrawal_is_caught_by_the_periodic_sweep(annotator):
    # Given a worker blocked by a submission whose after-commit withdrawal never ran (the
    # test's transaction never commits, as a process dying right after the commit would)
    project = project_make(
        images=40, gold=10, images_per_hit=4, gold_per_hit=2, gold_min_answers=4, min_votes=2
    )
    touched: set[int] = set()
    for _ in range(2):
        assignment = hit_next_for_worker(project=project, worker=annotator)
        rows = list(assignment.assignment_items.select_related("item"))
        touched |= {r.item_id for r in rows if not r.is_gold}
        wrong = [r.item_id for r in rows if r.is_gold and not r.item.gold_label]
        _submit(assignment, annotator, selected=wrong)
    assert WorkerProfile.objects.get(user=annotator).blocked
    assert Vote.objects.filter(worker=annotator, status=Vote.Status.CONFIRMED).exists()

    # When the periodic task runs
    from labeling.tasks import leases_expire_task

    leases_expire_task()

    # Then their votes are out of consensus and the images need votes again
    assert not Vote.objects.filter(worker=annotator, status=Vote.Status.CONFIRMED).exists()
    for item in Item.objects.filter(pk__in=touched):
        assert (item.yes_votes, item.no_votes, item.votes_needed) == (0, 0, 2)


@pytest.mark.django_db
def test_too_fast_and_constant_answers_are_flagged(annotator):
    project = project_make(images=40, images_per_hit=4, min_votes=1)
    raised = []
    for _ in range(5):
        assignment = hit_next_for_worker(project=project, worker=annotator)
        raised = _submit(assignment, annotator, selected=_ids(assignment), duration_ms=400).flags

    flags = WorkerProfile.objects.get(user=annotator).flags
    assert flags["too_fast"]["count"] == 5
    assert flags["constant_yes"]["count"] == 1
    assert set(raised) == {"too_fast", "constant_yes"}


@pytest.mark.django_db
def test_submit_query_count_does_not_grow_with_hit_size(django_assert_max_num_queries):
    counts = []
    for n, size in enumerate((6, 24)):
        project = project_make(images=40, gold=4, images_per_hit=size, name=f"p{size}")
        worker = annotator_create(username=f"s{n}", password=None)
        assignment = hit_next_for_worker(project=project, worker=worker)
        with django_assert_max_num_queries(25) as captured:
            _submit(assignment, worker, selected=_ids(assignment)[:3])
        counts.append(len(captured.captured_queries))

    assert counts[0] == counts[1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_submissions_create_one_set_of_votes():
    project = project_make(images=10, images_per_hit=6)
    worker = annotator_create(username="double", password=None)
    assignment = hit_next_for_worker(project=project, worker=worker)
    ids = _ids(assignment)
    barrier = threading.Barrier(20)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(_submit(assignment, worker, selected=ids[:3]))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert len(results) == 20 and len({r.as_dict().__repr__() for r in results}) == 1
    assert Vote.objects.filter(assignment=assignment).count() == 6
    assert sorted(Item.objects.filter(pk__in=ids).values_list("yes_votes", flat=True)) == [
        0, 0, 0, 1, 1, 1,
    ]  # fmt: skip
