"""labeling/tasks.py: the broker-down path of the recompute and the lease sweep."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from labeling import tasks
from labeling.hits.scheduler import hit_next_for_worker
from labeling.models import Assignment, Item, ProjectSynset
from tests.labeling.project_factories import project_make


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


@pytest.mark.django_db
def test_lease_sweep_task_expires_abandoned_hits(annotator):
    project = project_make(images=6, images_per_hit=6)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    Assignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert tasks.leases_expire_task() == 1
    assert not Item.objects.filter(active_leases__gt=0).exists()
