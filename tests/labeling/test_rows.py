"""labeling/rows.py: a HIT's rows in one written-out INSERT."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.models import Assignment, Vote
from labeling.rows import rows_insert
from tests.factories import project_make


@pytest.mark.django_db
def test_rows_insert_writes_the_rows_bulk_create_would_and_stamps_them(annotator):
    # Given a leased assignment of three images
    project = project_make(images=3, gold=0)
    items = list(project.items.order_by("pk"))
    assignment = Assignment.objects.create(
        project=project, worker=annotator, synset_id=items[0].synset_id,
        lease_expires_at=timezone.now(),
    )  # fmt: skip
    before = timezone.now()

    # When its three votes are inserted in one statement
    count = rows_insert(
        Vote,
        ("item", "worker", "assignment", "label", "status"),
        [(item.pk, annotator.pk, assignment.pk, item.pk % 2 == 0, "confirmed") for item in items],
        now=("created_at",),
    )

    # Then they read back as the model's rows, stamped with the statement's time
    assert count == 3
    votes = list(Vote.objects.filter(assignment=assignment).order_by("item_id"))
    assert [(v.item_id, v.worker_id, v.label, v.status) for v in votes] == [
        (item.pk, annotator.pk, item.pk % 2 == 0, "confirmed") for item in items
    ]
    assert all(abs((v.created_at - before).total_seconds()) < 60 for v in votes)
    assert rows_insert(Vote, ("item",), []) == 0


@pytest.mark.django_db
def test_rows_insert_raises_djangos_integrity_error_and_adds_nothing(annotator):
    # Given an image the worker has already voted on
    project = project_make(images=2, gold=0)
    first, second = project.items.order_by("pk")
    assignment = Assignment.objects.create(
        project=project, worker=annotator, synset_id=first.synset_id,
        lease_expires_at=timezone.now(),
    )  # fmt: skip
    fields = ("item", "worker", "assignment", "label", "status")
    rows_insert(Vote, fields, [(first.pk, annotator.pk, assignment.pk, True, "confirmed")],
                now=("created_at",))  # fmt: skip

    # When a statement with a new vote and a second vote on that image runs
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(
            Vote, fields,
            [(second.pk, annotator.pk, assignment.pk, True, "confirmed"),
             (first.pk, annotator.pk, assignment.pk, False, "confirmed")],
            now=("created_at",),
        )  # fmt: skip

    # Then neither row of the refused statement is stored
    assert list(Vote.objects.values_list("item_id", "label")) == [(first.pk, True)]
