"""Read-side queries of the candidates app."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from .models import Candidate, CollectionJob, SearchQuery


def candidate_list(*, wnid: str, status: str | None = None) -> QuerySet[Candidate]:
    queryset = Candidate.objects.filter(synset_id=wnid).order_by("id")
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def candidate_status_counts(*, wnid: str) -> dict[str, int]:
    rows = Candidate.objects.filter(synset_id=wnid).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def candidate_reject_counts(*, wnid: str) -> dict[str, int]:
    rows = (
        Candidate.objects.filter(synset_id=wnid, status=Candidate.Status.REJECTED)
        .values("reject_reason")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    return {row["reject_reason"]: row["n"] for row in rows}


def search_query_list(*, wnid: str) -> QuerySet[SearchQuery]:
    return SearchQuery.objects.filter(synset_id=wnid).order_by("id")


def collection_job_list() -> QuerySet[CollectionJob]:
    return CollectionJob.objects.select_related("created_by").order_by("-id")
