"""Builders for dashboard, audit and export tests: a project whose images already carry votes,
submitted HITs and consensus states, without going through the scheduler."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from labeling.models import Assignment, AssignmentItem, Item, Project, ProjectSynset, Vote
from labeling.roles import annotator_create
from tests.labeling.project_factories import project_make


def workers_make(n: int, prefix: str = "w") -> list:
    return [annotator_create(username=f"{prefix}{i}", password=None) for i in range(n)]


def votes_cast(
    *,
    project: Project,
    workers: list,
    wnid: str,
    labels: dict[int, list[bool]],
    at=None,
    duration_ms: int = 12_000,
) -> None:
    """Worker i gives ``labels[item_id][i]`` on each item (one submitted HIT per worker), and the
    items' vote counters follow."""
    at = at or timezone.now()
    for i, worker in enumerate(workers):
        mine = [(item_id, votes[i]) for item_id, votes in labels.items() if i < len(votes)]
        if not mine:
            continue
        assignment = Assignment.objects.create(
            project=project,
            worker=worker,
            synset_id=wnid,
            status=Assignment.Status.SUBMITTED,
            lease_expires_at=at + timedelta(minutes=10),
            submitted_at=at,
            duration_ms=duration_ms,
            reward_cents=project.reward_cents_per_hit,
        )
        AssignmentItem.objects.bulk_create(
            AssignmentItem(assignment=assignment, worker=worker, item_id=item_id, position=p)
            for p, (item_id, _) in enumerate(mine)
        )
        Vote.objects.bulk_create(
            Vote(item_id=item_id, worker=worker, assignment=assignment, label=label)
            for item_id, label in mine
        )
        Vote.objects.filter(assignment=assignment).update(created_at=at)
    for item_id, votes in labels.items():
        Item.objects.filter(pk=item_id).update(
            yes_votes=sum(votes), no_votes=len(votes) - sum(votes)
        )


def voted_project(*, synsets: int = 2, images: int = 6, with_files: bool = False, **settings):
    """Each synset: the first half of its images accepted (3 yes), the next rejected (3 no), the
    rest undecided (mixed); three workers voted."""
    project = project_make(synsets=synsets, images=images, with_files=with_files, **settings)
    workers = workers_make(3, prefix=f"{project.slug}-w")
    for wnid in project.project_synsets.values_list("synset_id", flat=True):
        items = list(Item.objects.filter(project=project, synset_id=wnid).order_by("pk"))
        labels: dict[int, list[bool]] = {}
        for index, item in enumerate(items):
            if index < images // 2:
                labels[item.pk], state, posterior = [True] * 3, Item.State.ACCEPTED, 0.99
            elif index < images - 1:
                labels[item.pk], state, posterior = [False] * 3, Item.State.REJECTED, 0.01
            else:
                labels[item.pk], state, posterior = [True, False, True], Item.State.UNDECIDED, 0.6
            Item.objects.filter(pk=item.pk).update(state=state, posterior=posterior, votes_needed=0)
        votes_cast(project=project, workers=workers, wnid=wnid, labels=labels)
        # What the consensus recompute would write.
        ProjectSynset.objects.filter(project=project, synset_id=wnid).update(
            accepted_count=images // 2,
            rejected_count=images - 1 - images // 2,
            undecided_count=1,
        )
    return project, workers
