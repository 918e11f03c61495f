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
