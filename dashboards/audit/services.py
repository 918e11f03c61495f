"""Precision audit writes (Deng et al. 2009 §2 "Accuracy"): draw a run's sample of accepted
images, stratified over tree depth, and record reviewers' verdicts."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from dashboards.audit.maths import (
    SYNSETS_PER_DEPTH,
    group_by_depth,
    sample_items,
    stratified_sample,
)
from dashboards.models import AuditRun, AuditSample
from labeling.models import Item, Project


@transaction.atomic
def audit_run_create(
    *,
    project: Project,
    created_by: AbstractBaseUser | None,
    synsets_per_depth: int = SYNSETS_PER_DEPTH,
    images_per_synset: int = 10,
    seed: str = "0",
) -> AuditRun:
    """Sample up to ``synsets_per_depth`` synsets with accepted images at every WordNet depth, as
    the paper did (80 per depth), then ``images_per_synset`` of each one's accepted images.

    Gold images are left out: their label came from an admin, not from the crowd being audited.
    Both draws are reproducible from ``seed`` (bottom-k by hash, see ``audit_math``).
    """
    run = AuditRun(
        project=project,
        created_by=created_by,
        seed=str(seed)[:64],
        synsets_per_depth=synsets_per_depth,
        images_per_synset=images_per_synset,
    )
    run.full_clean(exclude=["project", "created_by"])
    run.save()
    accepted = Item.objects.filter(project=project, state=Item.State.ACCEPTED, is_gold=False)
    depth_by_wnid = dict(accepted.values_list("synset_id", "synset__depth").order_by().distinct())
    chosen = stratified_sample(group_by_depth(depth_by_wnid), synsets_per_depth, seed)
    samples = []
    for wnid in chosen:
        ids = accepted.filter(synset_id=wnid).values_list("pk", flat=True)
        for item_id in sample_items(ids.iterator(chunk_size=2000), images_per_synset, seed):
            samples.append(
                AuditSample(run=run, item_id=item_id, synset_id=wnid, depth=depth_by_wnid[wnid])
            )
    AuditSample.objects.bulk_create(samples, batch_size=2000)
    return run


@transaction.atomic
def audit_review_record(
    *,
    run: AuditRun,
    reviewer: AbstractBaseUser,
    correct_ids: Iterable[int],
    incorrect_ids: Iterable[int],
) -> int:
    """Record verdicts on samples of ``run``; returns how many were recorded.

    The first verdict stands: a batch that two reviewers held at once (the grid prefetches) is
    not silently re-decided by whoever submits second. Ids outside the run are ignored.
    """
    correct, incorrect = set(correct_ids), set(incorrect_ids)
    if correct & incorrect:
        raise ValueError("a sample cannot be both correct and incorrect")
    now = timezone.now()
    open_samples = AuditSample.objects.filter(run=run, correct__isnull=True)
    recorded = 0
    for ids, verdict in ((correct, True), (incorrect, False)):
        if ids:
            recorded += open_samples.filter(pk__in=ids).update(
                correct=verdict, reviewer=reviewer, reviewed_at=now
            )
    return recorded
