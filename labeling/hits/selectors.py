"""Read-side queries for HITs: what the grid shows for an assignment, and a worker's stats."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Aggregate, Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from labeling.models import (
    Assignment,
    AssignmentItem,
    Project,
    Vote,
    gold_accuracy_smoothed,
)
from synsets.models import Synset
from synsets.selectors import synset_parents

# WordNet rows change only when WordNet is re-imported, yet every HIT of a synset shows its card:
# it is kept in the shared cache for a while (a re-import shows within this many seconds).
SYNSET_CARD_SECONDS = 600


def synset_card(synset_id: str) -> dict:
    """The synset as every grid shows it: lemmas, definition, Wikipedia link and its parent."""
    key = f"synset-card:{synset_id}"
    card = cache.get(key)
    if card is None:
        card = _synset_card(synset_id)
        cache.set(key, card, SYNSET_CARD_SECONDS)
    return card


def _synset_card(synset_id: str) -> dict:
    synset = Synset.objects.get(pk=synset_id)
    parent = synset_parents(synset.wnid).first()
    return {
        "wnid": synset.wnid,
        "name": synset.name,
        "lemmas": synset.lemmas,
        "gloss": synset.gloss,
        "wikipedia_url": synset.wikipedia_url,
        "parent": {"wnid": parent.wnid, "name": parent.name} if parent else None,
    }


def hit_card(
    *,
    card_id: int | str | None,
    synset_id: str,
    rows: Iterable[tuple[int | None, int]],
    image_urls: Callable[[int], tuple[str, str]],
    **extra,
) -> dict:
    """The one shape of a grid of images, used by the annotators' grid, the precision audit and
    the panel and MTurk pages: ``rows`` are (answer id, candidate id) in grid order,
    ``image_urls`` gives a candidate's (thumbnail, larger view) URLs — session-checked, staff or
    signed, as the page needs — and ``extra`` adds the page's own fields (submit URL, …).

    Which images are gold is deliberately absent: a worker must not be able to tell.
    """
    items = []
    for answer_id, candidate_id in rows:
        thumbnail_url, image_url = image_urls(candidate_id)
        items.append({"id": answer_id, "thumbnail_url": thumbnail_url, "image_url": image_url})
    return {"id": card_id, **extra, "synset": synset_card(synset_id), "items": items}


# A stand-in candidate id: the grid's 26 image URLs cost two reverse() calls per HIT instead of
# 52 (reverse is a third of a next-HIT request's Python time otherwise).
_ANY_CANDIDATE = 987_654_321_987


def _labeling_image_urls_maker() -> Callable[[int], tuple[str, str]]:
    thumbnail = reverse("labeling:thumbnail", args=[_ANY_CANDIDATE])
    image = reverse("labeling:image", args=[_ANY_CANDIDATE])
    marker = str(_ANY_CANDIDATE)

    def urls(candidate_id: int) -> tuple[str, str]:
        pk = str(int(candidate_id))
        return thumbnail.replace(marker, pk), image.replace(marker, pk)

    return urls


def hit_payload(*, assignment: Assignment) -> dict:
    """Everything the annotators' grid needs for one assignment: one query whatever its size,
    none for a HIT the scheduler has just made (it comes with its ``grid_rows``)."""
    rows = getattr(assignment, "grid_rows", None)
    if rows is None:
        rows = (
            AssignmentItem.objects.filter(assignment=assignment)
            .order_by("position")
            .values_list("item_id", "item__candidate_id")
        )
    return hit_card(
        card_id=assignment.pk,
        synset_id=assignment.synset_id,
        rows=rows,
        image_urls=_labeling_image_urls_maker(),
        project=assignment.project.slug,
        lease_expires_at=assignment.lease_expires_at,
        submit_url=reverse("api-assignment-submit", args=[assignment.pk]),
        release_url=reverse("api-assignment-release", args=[assignment.pk]),
    )


def _per_worker(queryset: QuerySet, **aggregate: Aggregate) -> Coalesce:
    """One aggregate of ``queryset`` (rows of the outer query's worker) as a scalar subquery."""
    ((name, expression),) = aggregate.items()
    grouped = queryset.order_by().values("worker").annotate(**aggregate).values(name)
    return Coalesce(Subquery(grouped), 0)


def worker_stats(*, worker: AbstractBaseUser, project: Project | None = None) -> dict:
    """HITs submitted, votes given, smoothed gold accuracy and earnings of one worker, in one
    statement (the annotator's page asks for them after every HIT)."""
    assignments = Assignment.objects.filter(
        worker=OuterRef("pk"), status=Assignment.Status.SUBMITTED
    )
    votes = Vote.objects.filter(worker=OuterRef("pk"))
    if project is not None:
        assignments = assignments.filter(project=project)
        votes = votes.filter(item__project=project)
    row = (
        get_user_model()
        .objects.filter(pk=worker.pk)
        .values(
            hits=_per_worker(assignments, n=Count("pk")),
            cents=_per_worker(assignments, n=Sum("reward_cents")),
            votes_total=_per_worker(votes, n=Count("pk")),
            votes_confirmed=_per_worker(
                votes, n=Count("pk", filter=Q(status=Vote.Status.CONFIRMED))
            ),
            # The profile is joined (LEFT JOIN): a worker without one yet has no gold record.
            profile_gold_correct=F("worker_profile__gold_correct"),
            profile_gold_total=F("worker_profile__gold_total"),
            profile_blocked=F("worker_profile__blocked"),
        )
        .first()
    ) or {}
    gold_total = row.get("profile_gold_total") or 0
    return {
        "hits_submitted": row.get("hits", 0),
        "votes": row.get("votes_total", 0),
        "votes_counted": row.get("votes_confirmed", 0),
        "gold_answers": gold_total,
        "gold_accuracy": (
            gold_accuracy_smoothed(correct=row["profile_gold_correct"], total=gold_total)
            if gold_total
            else None
        ),
        "earnings_cents": row.get("cents", 0),
        "blocked": bool(row.get("profile_blocked")),
    }
