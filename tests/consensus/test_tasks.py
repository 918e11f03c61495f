"""consensus/tasks.py: the broker-down path of the recompute and the sweep that catches up."""

from __future__ import annotations

from unittest import mock

import pytest
from kombu.exceptions import OperationalError

from consensus import tasks
from labeling.models import ProjectSynset
from tests.factories import project_make


@pytest.mark.django_db
def test_broker_down_leaves_the_flag_for_the_sweep():
    project = project_make(images=5)
    project_synset = ProjectSynset.objects.get(project=project)

    # The broker is the boundary we cannot make fail on demand.
    with mock.patch.object(
        tasks.recompute_synset, "apply_async", side_effect=OperationalError("down")
    ):
        tasks.recompute_synset_later(project_synset.pk)
    project_synset.refresh_from_db()
    assert project_synset.needs_recompute
    assert project_synset.recompute_queued_at is None  # no task was sent

    assert tasks.recompute_pending_sweep() == 1
    project_synset.refresh_from_db()
    assert not project_synset.needs_recompute


def test_recompute_waits_in_proportion_to_the_queued_work_within_bounds():
    assert tasks.recompute_delay(None) == tasks.RECOMPUTE_DELAY_SECONDS
    assert tasks.recompute_delay(0.05) == tasks.RECOMPUTE_DELAY_SECONDS
    assert tasks.recompute_delay(0.8) == pytest.approx(0.8 * tasks.RECOMPUTE_COST_FACTOR)
    assert tasks.recompute_delay(600.0) == tasks.RECOMPUTE_MAX_DELAY_SECONDS


@pytest.mark.django_db
def test_a_slow_synset_is_recomputed_later_than_a_quick_one():
    from consensus.recompute import synset_recompute_consensus

    project = project_make(images=5)
    project_synset = ProjectSynset.objects.get(project=project)
    # The recompute records how long it took
    synset_recompute_consensus(project_synset_id=project_synset.pk)
    project_synset.refresh_from_db()
    assert project_synset.recompute_seconds is not None
    assert 0 < project_synset.recompute_seconds < 30

    countdowns = []
    for last_seconds in (0.01, 3.0):
        ProjectSynset.objects.filter(pk=project_synset.pk).update(
            recompute_seconds=last_seconds, needs_recompute=False
        )
        # The broker is the boundary: what matters is the countdown the task is sent with.
        with mock.patch.object(tasks.recompute_synset, "apply_async") as send:
            tasks.recompute_synset_later(project_synset.pk)
            tasks.recompute_synset_later(project_synset.pk)  # debounced: one task
        assert send.call_count == 1
        countdowns.append(send.call_args.kwargs["countdown"])

    assert countdowns == [tasks.RECOMPUTE_DELAY_SECONDS, 3.0 * tasks.RECOMPUTE_COST_FACTOR]


@pytest.mark.django_db
def test_busy_synsets_share_one_recompute_budget():
    """Each of N busy synsets waits for the work of all N: the consensus worker's share of a core
    stays about 1/(1 + factor) however many synsets are busy, instead of N times that."""
    one, two, three = (project_make(images=3) for _ in range(3))
    first, second, third = (ProjectSynset.objects.get(project=p) for p in (one, two, three))
    ProjectSynset.objects.filter(pk=first.pk).update(recompute_seconds=1.0)
    ProjectSynset.objects.filter(pk=second.pk).update(recompute_seconds=2.0)
    # The third was never recomputed and waits for nothing: it adds no queued work.
    ProjectSynset.objects.filter(pk=third.pk).update(needs_recompute=True)

    countdowns = []
    with mock.patch.object(tasks.recompute_synset, "apply_async") as send:
        tasks.recompute_synset_later(first.pk)  # alone in the queue with its 1 s
        countdowns.append(send.call_args.kwargs["countdown"])
        tasks.recompute_synset_later(second.pk)  # 1 s + 2 s queued
        countdowns.append(send.call_args.kwargs["countdown"])
    assert countdowns == [1.0 * tasks.RECOMPUTE_COST_FACTOR, 3.0 * tasks.RECOMPUTE_COST_FACTOR]

    # Once the first synset's recompute has started (flag cleared), it no longer counts.
    ProjectSynset.objects.filter(pk=first.pk).update(needs_recompute=False)
    assert tasks.queued_recompute_seconds() == pytest.approx(2.0)

    # However much is queued, nothing waits longer than the cap.
    ProjectSynset.objects.filter(pk=first.pk).update(recompute_seconds=500.0, needs_recompute=True)
    assert tasks.recompute_delay(tasks.queued_recompute_seconds()) == (
        tasks.RECOMPUTE_MAX_DELAY_SECONDS
    )


@pytest.mark.django_db
def test_the_sweep_leaves_a_waiting_recompute_to_its_task():
    """A synset whose task is waiting its turn is not swept (that would spend the recompute
    budget twice); one whose task was never sent is swept at once, one whose task is overdue
    past the longest wait is swept as lost."""
    from datetime import timedelta

    from django.utils import timezone

    waiting, never_sent, overdue = (
        ProjectSynset.objects.get(project=project_make(images=3)) for _ in range(3)
    )
    with mock.patch.object(tasks.recompute_synset, "apply_async") as send:
        tasks.recompute_synset_later(waiting.pk)
        tasks.recompute_synset_later(overdue.pk)
    assert send.call_count == 2
    with mock.patch.object(
        tasks.recompute_synset, "apply_async", side_effect=OperationalError("down")
    ):
        tasks.recompute_synset_later(never_sent.pk)
    late = timezone.now() - timedelta(
        seconds=tasks.RECOMPUTE_MAX_DELAY_SECONDS + tasks.SWEEP_GRACE_SECONDS + 1
    )
    ProjectSynset.objects.filter(pk=overdue.pk).update(recompute_queued_at=late)

    assert tasks.recompute_pending_sweep() == 2

    flagged = dict(ProjectSynset.objects.values_list("pk", "needs_recompute"))
    assert flagged == {waiting.pk: True, never_sent.pk: False, overdue.pk: False}
