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

    assert tasks.recompute_pending_sweep() == 1
    project_synset.refresh_from_db()
    assert not project_synset.needs_recompute


def test_recompute_waits_in_proportion_to_the_last_one_within_bounds():
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
