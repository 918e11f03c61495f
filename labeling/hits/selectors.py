"""Read-side queries for HITs: what the grid shows for an assignment, and a worker's stats."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.urls import reverse

from labeling.models import Assignment, AssignmentItem, Project, Vote, WorkerProfile
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
    """Everything the annotators' grid needs for one assignment, in three queries whatever its
    size."""
    rows = AssignmentItem.objects.filter(assignment=assignment).order_by("position").values_list(
        "item_id", "item__candidate_id"
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


def worker_stats(*, worker: AbstractBaseUser, project: Project | None = None) -> dict:
    """HITs submitted, votes given, smoothed gold accuracy and earnings of one worker."""
    assignments = Assignment.objects.filter(worker=worker, status=Assignment.Status.SUBMITTED)
    votes = Vote.objects.filter(worker=worker)
    if project is not None:
        assignments = assignments.filter(project=project)
        votes = votes.filter(item__project=project)
    totals = assignments.aggregate(hits=Count("pk"), cents=Sum("reward_cents"))
    vote_counts = votes.aggregate(
        total=Count("pk"), counted=Count("pk", filter=Q(status=Vote.Status.CONFIRMED))
    )
    profile = WorkerProfile.objects.filter(user=worker).first()
    return {
        "hits_submitted": totals["hits"] or 0,
        "votes": vote_counts["total"] or 0,
        "votes_counted": vote_counts["counted"] or 0,
        "gold_answers": profile.gold_total if profile else 0,
        "gold_accuracy": profile.gold_accuracy if profile and profile.gold_total else None,
        "earnings_cents": totals["cents"] or 0,
        "blocked": bool(profile and profile.blocked),
    }
