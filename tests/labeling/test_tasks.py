"""labeling/tasks.py: the lease sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import tasks
from labeling.hits.scheduler import hit_next_for_worker
from labeling.models import Assignment, Item
from tests.factories import project_make


@pytest.mark.django_db
def test_lease_sweep_task_expires_abandoned_hits(annotator):
    project = project_make(images=6, images_per_hit=6)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    Assignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert tasks.leases_expire_task() == 1
    assert not Item.objects.filter(active_leases__gt=0).exists()
