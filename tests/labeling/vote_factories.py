"""Builders of voted synsets for fault-injection and backup tests: a project whose items already
carry confirmed votes from simulated workers of known accuracy (written in bulk, not through
HITs, so hundreds of votes cost milliseconds)."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from labeling.models import Assignment, AssignmentItem, Item, Project, ProjectSynset, Vote
from tests.labeling.project_factories import project_make

_names = itertools.count()


def project_with_votes(
    *, images: int = 40, workers: int = 7, accuracy: float = 0.85, seed: int = 1, gold: int = 0
) -> tuple[Project, ProjectSynset]:
    """One synset, ``images`` items, every worker voting on every non-gold item once (one
    submitted assignment per worker); each image's truth alternates good/bad at random."""
    rng = random.Random(seed)
    project = project_make(images=images, gold=gold, name=f"Voted {next(_names)}")
    project_synset = ProjectSynset.objects.get(project=project)
    items = list(Item.objects.filter(project=project, is_gold=False).order_by("pk"))
    truth = {item.pk: rng.random() < 0.5 for item in items}
    now = timezone.now()
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"voter-{next(_names)}") for _ in range(workers)]
    )
    votes, links = [], []
    for user in users:
        assignment = Assignment.objects.create(
            project=project, worker=user, synset_id=project_synset.synset_id,
            status=Assignment.Status.SUBMITTED, lease_expires_at=now + timedelta(minutes=10),
            submitted_at=now, duration_ms=30_000,
        )  # fmt: skip
        for position, item in enumerate(items):
            links.append(
                AssignmentItem(assignment=assignment, worker=user, item=item, position=position)
            )
            correct = rng.random() < accuracy
            label = truth[item.pk] if correct else not truth[item.pk]
            votes.append(Vote(item=item, worker=user, assignment=assignment, label=label))
    AssignmentItem.objects.bulk_create(links)
    Vote.objects.bulk_create(votes)
    for item in items:
        item_votes = [v.label for v in votes if v.item_id == item.pk]
        item.yes_votes = sum(item_votes)
        item.no_votes = len(item_votes) - item.yes_votes
    Item.objects.bulk_update(items, ["yes_votes", "no_votes"])
    ProjectSynset.objects.filter(pk=project_synset.pk).update(needs_recompute=True)
    return project, project_synset
