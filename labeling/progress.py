"""Read side of where projects stand, for the pages people land on: the annotator's /label/
list and the staff projects overview. A fixed number of queries whatever the number of projects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from .models import Assignment, Item, Project, ProjectSynset
from .projects import project_labelled_synsets


@dataclass(frozen=True, slots=True)
class ProjectProgress:
    project: Project
    synsets: int
    synsets_done: int  # synsets whose accepted images reached the target
    accepted: int
    target: int
    items: int  # images to verify in the project (gold included)
    decided: int
    open_items: int  # images the scheduler still hands out
    gold: int
    my_hits: int | None = None  # the viewer's submitted HITs, on the annotator's list

    @property
    def percent(self) -> int:
        """Accepted images to target, in whole percent (capped at 100)."""
        return min(100, round(100 * self.accepted / self.target)) if self.target else 0

    @property
    def decided_percent(self) -> int:
        return round(100 * self.decided / self.items) if self.items else 0


def projects_progress(*, projects: Iterable[Project], worker=None) -> list[ProjectProgress]:
    """Progress of each project (in the given order); with ``worker``, their own HIT count too."""
    projects = list(projects)
    ids = [p.pk for p in projects]
    synset_rows = {
        row["project_id"]: row
        for row in ProjectSynset.objects.filter(project_id__in=ids)
        .values("project_id")
        .annotate(n=Count("pk"), accepted=Sum("accepted_count"))
    }
    item_rows = {
        row["project_id"]: row
        for row in Item.objects.filter(project_id__in=ids)
        .values("project_id")
        .annotate(
            n=Count("pk"),
            decided=Count("pk", filter=~Q(state=Item.State.PENDING) & Q(is_gold=False)),
            open=Count(
                "pk", filter=Q(state=Item.State.PENDING, is_gold=False, votes_needed__gt=0)
            ),
            gold=Count("pk", filter=Q(is_gold=True)),
        )
    }
    my_hits: dict[int, int] = {}
    if worker is not None:
        my_hits = dict(
            Assignment.objects.filter(
                project_id__in=ids, worker=worker, status=Assignment.Status.SUBMITTED
            )
            .values("project_id")
            .annotate(n=Count("pk"))
            .values_list("project_id", "n")
        )
    per_synset_done = _synsets_at_target(projects)
    # Synsets that get items: internal ones only group their subtree when only leaves are
    # labelled, so they carry no target.
    labelled = {p.pk: len(project_labelled_synsets(project=p)) for p in projects}
    out = []
    for project in projects:
        synsets = synset_rows.get(project.pk, {})
        items = item_rows.get(project.pk, {})
        n_synsets = synsets.get("n", 0)
        out.append(
            ProjectProgress(
                project=project,
                synsets=n_synsets,
                synsets_done=per_synset_done.get(project.pk, 0),
                accepted=synsets.get("accepted") or 0,
                target=labelled[project.pk] * project.target_per_synset,
                items=items.get("n", 0) - items.get("gold", 0),
                decided=items.get("decided", 0),
                open_items=items.get("open", 0),
                gold=items.get("gold", 0),
                my_hits=my_hits.get(project.pk, 0) if worker is not None else None,
            )
        )
    return out


def _synsets_at_target(projects: list[Project]) -> dict[int, int]:
    """Synsets per project whose accepted count reached the project's target (one query)."""
    targets = {p.pk: p.target_per_synset for p in projects}
    counts: dict[int, int] = {}
    for project_id, accepted in ProjectSynset.objects.filter(
        project_id__in=list(targets)
    ).values_list("project_id", "accepted_count"):
        if targets[project_id] and accepted >= targets[project_id]:
            counts[project_id] = counts.get(project_id, 0) + 1
    return counts
