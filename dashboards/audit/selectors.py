"""Read side of the precision audit: a run's precision per synset and overall with 95% Wilson
intervals, and the next batch of samples for the reviewer grid."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Q
from django.urls import reverse

from dashboards.audit.maths import AuditReport, audit_precision
from dashboards.models import AuditRun, AuditSample
from labeling.hits.selectors import hit_card
from synsets.models import Synset

REVIEW_BATCH = 24


def audit_run_list(*, project_id: int):
    return AuditRun.objects.filter(project_id=project_id).annotate(
        sampled=Count("samples"),
        reviewed=Count("samples", filter=Q(samples__correct__isnull=False)),
    )


def audit_report(*, run: AuditRun) -> AuditReport:
    """Precision of the reviewed samples: per synset and pooled over the run (micro average)."""
    reviews = AuditSample.objects.filter(run=run, correct__isnull=False).values_list(
        "synset_id", "correct"
    )
    return audit_precision(reviews.iterator(chunk_size=5000))


def audit_progress(*, run: AuditRun) -> dict[str, int]:
    counts = AuditSample.objects.filter(run=run).aggregate(
        sampled=Count("pk"), reviewed=Count("pk", filter=Q(correct__isnull=False))
    )
    return {"sampled": counts["sampled"], "reviewed": counts["reviewed"]}


def audit_synset_names(*, wnids: Iterable[str]) -> dict[str, tuple[str, int]]:
    return {s.wnid: (s.name, s.depth) for s in Synset.objects.filter(wnid__in=list(wnids))}


def parse_batch_ids(values: Iterable[object]) -> list[tuple[int, int]]:
    """Batch ids are ``"<first>-<last>"`` sample id ranges; anything else is ignored."""
    ranges = []
    for value in values:
        first, _, last = str(value).partition("-")
        if first.isdigit() and last.isdigit():
            ranges.append((int(first), int(last)))
    return ranges


def audit_batch_next(
    *, run: AuditRun, exclude: Iterable[object] = (), size: int = REVIEW_BATCH
) -> dict | None:
    """The next unreviewed samples of one synset, shaped like a HIT so the annotators'
    keyboard-first grid (static/labeling/grid.js) shows them unchanged.

    ``exclude`` holds batch ids the grid already shows (it prefetches the following batch).
    """
    open_samples = AuditSample.objects.filter(run=run, correct__isnull=True)
    for first, last in parse_batch_ids(exclude):
        open_samples = open_samples.exclude(pk__gte=first, pk__lte=last)
    head = open_samples.order_by("synset_id", "pk").values_list("synset_id", flat=True).first()
    if head is None:
        return None
    rows = list(
        open_samples.filter(synset_id=head)
        .order_by("pk")
        .values_list("pk", "item__candidate_id")[:size]
    )
    return hit_card(
        card_id=f"{rows[0][0]}-{rows[-1][0]}",
        synset_id=head,
        rows=rows,
        image_urls=_staff_image_urls,
        project=run.project_id,
        submit_url=reverse("api-audit-submit", args=[run.pk]),
    )


def _staff_image_urls(candidate_id: int) -> tuple[str, str]:
    return (
        reverse("candidates:thumbnail", args=[candidate_id]),
        reverse("candidates:image", args=[candidate_id]),
    )
