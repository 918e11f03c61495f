"""crowds/costs.py: MTurk fees (20%, 40% at 10+ assignments, $0.01 minimum), HIT costs and a
project's costs per backend, per synset, per HIT and per accepted image."""

from __future__ import annotations

import pytest

from crowds.costs import (
    mturk_fee_cents,
    mturk_hit_cost_cents,
    panel_fee_cents,
    project_costs,
)
from crowds.models import CrowdAssignment, CrowdPayment
from labeling.hits.scheduler import hit_next_for_worker
from labeling.hits.submission import assignment_submit
from labeling.models import ProjectSynset
from labeling.roles import annotator_create
from tests.factories import project_make


@pytest.mark.parametrize(
    ("reward", "assignments", "fee"),
    [(5, 1, 1), (10, 9, 2), (10, 10, 4), (1, 3, 1), (50, 9, 10), (50, 10, 20), (3, 1, 1),
     (0, 1, 0), (12, 1, 2), (13, 1, 3)],
)  # fmt: skip
def test_mturk_fee(reward, assignments, fee):
    assert mturk_fee_cents(amount_cents=reward, max_assignments=assignments) == fee


def test_hit_cost_counts_every_assignment_with_its_fee():
    assert mturk_hit_cost_cents(reward_cents=10, max_assignments=9) == 9 * 12
    # The same nine workers' worth of votes in one 10-assignment HIT costs 40% on top.
    assert mturk_hit_cost_cents(reward_cents=10, max_assignments=10) == 10 * 14


def test_panel_fee():
    assert panel_fee_cents(amount_cents=100, fee_percent=33) == 33
    assert panel_fee_cents(amount_cents=100, fee_percent=0) == 0


@pytest.mark.django_db
def test_project_costs_per_backend_synset_hit_and_accepted_image():
    project = project_make(images=8, images_per_hit=4, reward_cents_per_hit=6)
    worker = annotator_create(username="w1", password=None)
    builtin = hit_next_for_worker(project=project, worker=worker)
    ids = list(builtin.assignment_items.values_list("item_id", flat=True))
    assignment_submit(assignment_id=builtin.pk, worker=worker, selected=ids, unselected=[],
                      duration_ms=10_000)  # fmt: skip
    mturk_worker = annotator_create(username="mturk:A1", password=None)
    other = hit_next_for_worker(project=project, worker=mturk_worker)
    crowd = CrowdAssignment.objects.create(backend="mturk", assignment=other,
                                           external_assignment_id="A")  # fmt: skip
    CrowdPayment.objects.create(crowd_assignment=crowd, kind="reward", status="sent",
                                amount_cents=10, fee_cents=2, token="r")  # fmt: skip
    CrowdPayment.objects.create(crowd_assignment=crowd, kind="bonus", status="sent",
                                amount_cents=5, fee_cents=1, token="b")  # fmt: skip
    CrowdPayment.objects.create(crowd_assignment=crowd, kind="bonus", status="skipped",
                                amount_cents=50, fee_cents=10, token="s")  # fmt: skip
    ProjectSynset.objects.filter(project=project).update(accepted_count=3)

    costs = project_costs(project=project)

    assert (costs["hits"], costs["rewards_cents"], costs["fees_cents"], costs["bonuses_cents"]) == (
        2, 16, 3, 5,
    )  # fmt: skip
    assert costs["total_cents"] == 24 and costs["cents_per_hit"] == 12.0
    assert costs["cents_per_accepted_image"] == 8.0
    assert costs["by_backend"]["builtin"]["rewards_cents"] == 6
    assert costs["by_backend"]["mturk"] == {"hits": 1, "rewards_cents": 10, "fees_cents": 3,
                                            "bonuses_cents": 5}  # fmt: skip
    [synset] = costs["synsets"]
    assert synset["total_cents"] == 24 and synset["accepted_images"] == 3
