"""Gold images as ImageNet's method suggests: seed images carry at least 10 votes (Deng et al.
2009 §3.2), and those whose votes reached a clear consensus are offered to staff as known
answers; staff confirm each as gold yes / gold no or skip it, and may make any stored candidate
of the project gold by hand. A project without gold runs on agreement between workers alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Greatest
from django.db.models.lookups import GreaterThanOrEqual
from django.urls import reverse

from candidates.models import Candidate
from synsets.models import Synset
from synsets.selectors import synset_parents

from .models import MIN_SEED_VOTES, GoldReview, Item, Project
from .projects import project_labelled_synsets
from .quality import gold_mark
from .signals import synset_votes_changed_on_commit

# "Clear consensus": at least nine in ten counted votes agree (one dissent in ten at most).
GOLD_PROPOSAL_AGREEMENT_TENTHS = 9
MAX_REVIEW_BATCH = 200


def gold_proposals(*, project: Project, synset_id: str | None = None) -> QuerySet[Item]:
    """Seed images with ≥ max(10, seed_votes) counted votes of which ≥ 90% agree, not gold yet
    and never reviewed; ``proposed`` is the label the votes agree on."""
    needed = max(MIN_SEED_VOTES, project.seed_votes)
    items = (
        Item.objects.filter(project=project, is_seed=True, is_gold=False, gold_review__isnull=True)
        .alias(total=F("yes_votes") + F("no_votes"), top=Greatest("yes_votes", "no_votes"))
        .filter(total__gte=needed)
        .filter(GreaterThanOrEqual(F("top") * 10, F("total") * GOLD_PROPOSAL_AGREEMENT_TENTHS))
        .annotate(proposed=Q(yes_votes__gt=F("no_votes")))
        .order_by("synset_id", "pk")
    )
    if synset_id:
        items = items.filter(synset_id=synset_id)
    return items


def gold_reviewable_items(*, project: Project, synset_id: str | None = None) -> QuerySet[Item]:
    """Any item of the project not gold and not reviewed yet, for adding gold by hand."""
    items = Item.objects.filter(project=project, is_gold=False, gold_review__isnull=True).order_by(
        "synset_id", "pk"
    )
    if synset_id:
        items = items.filter(synset_id=synset_id)
    return items


def gold_summary(*, project: Project) -> dict:
    counts = Item.objects.filter(project=project, is_gold=True).aggregate(
        gold=Count("pk"),
        gold_yes=Count("pk", filter=Q(gold_label=True)),
        gold_no=Count("pk", filter=Q(gold_label=False)),
        synsets=Count("synset_id", distinct=True),
    )
    return {
        **counts,
        "proposals": gold_proposals(project=project).count(),
        "synsets_labelled": len(project_labelled_synsets(project=project)),
        "agreement_only": counts["gold"] == 0,
    }


def gold_batch(
    *,
    project: Project,
    mode: str = "proposals",
    synset_id: str | None = None,
    exclude: Sequence[int] = (),
    size: int | None = None,
) -> dict | None:
    """The next grid of images to review, all of one synset, shaped like a HIT so the grid's
    markup serves it; None when nothing is left. ``mode`` "proposals" offers the seed set's
    clear consensus with its label preset; "items" offers any other image, preset to skip."""
    if mode not in {"proposals", "items"}:
        raise ValidationError("mode is 'proposals' or 'items'.")
    source = (gold_proposals if mode == "proposals" else gold_reviewable_items)(
        project=project, synset_id=synset_id
    )
    source = source.exclude(pk__in=list(exclude))
    first = source.values_list("synset_id", flat=True).first()
    if first is None:
        return None
    rows = list(
        source.filter(synset_id=first).values_list("pk", "candidate_id", "yes_votes", "no_votes")[
            : min(size or project.images_per_hit, MAX_REVIEW_BATCH)
        ]
    )
    synset = Synset.objects.get(pk=first)
    parent = synset_parents(synset.wnid).first()
    return {
        "mode": mode,
        "project": project.slug,
        "remaining": source.count(),
        "submit_url": reverse("api-project-gold-review", args=[project.slug]),
        "synset": {
            "wnid": synset.wnid,
            "name": synset.name,
            "lemmas": synset.lemmas,
            "gloss": synset.gloss,
            "wikipedia_url": synset.wikipedia_url,
            "parent": {"wnid": parent.wnid, "name": parent.name} if parent else None,
        },
        "items": [
            {
                "id": pk,
                "thumbnail_url": reverse("labeling:thumbnail", args=[candidate_id]),
                "image_url": reverse("labeling:image", args=[candidate_id]),
                "yes_votes": yes,
                "no_votes": no,
                "proposed": (yes > no) if mode == "proposals" else None,
            }
            for pk, candidate_id, yes, no in rows
        ],
    }


@dataclass
class GoldReviewResult:
    gold_yes: int
    gold_no: int
    skipped: int

    def as_dict(self) -> dict:
        return {"gold_yes": self.gold_yes, "gold_no": self.gold_no, "skipped": self.skipped}


@transaction.atomic
def gold_review_submit(
    *,
    project: Project,
    reviewer: AbstractBaseUser,
    yes: Sequence[int] = (),
    no: Sequence[int] = (),
    skip: Sequence[int] = (),
) -> GoldReviewResult:
    """Record a reviewed grid: ``yes`` and ``no`` images become gold with that answer, ``skip``
    ones are not offered again. Every id must be an item of the project, each in one list
    only; otherwise ValidationError and nothing changes."""
    yes, no, skip = list(dict.fromkeys(yes)), list(dict.fromkeys(no)), list(dict.fromkeys(skip))
    every = yes + no + skip
    if len(set(every)) != len(every):
        raise ValidationError("An image can be gold yes, gold no or skipped, not two of these.")
    if not every:
        raise ValidationError("Nothing to record: mark at least one image.")
    # Items are locked in primary-key order, as every writer of items does (no deadlocks).
    items = {
        item.pk: item
        for item in Item.objects.select_for_update(no_key=True)
        .filter(project=project, pk__in=every)
        .order_by("pk")
    }
    unknown = [pk for pk in every if pk not in items]
    if unknown:
        raise ValidationError(f"Not images of this project: {', '.join(map(str, unknown[:10]))}.")
    for pk, decision in [
        *((pk, GoldReview.Decision.GOLD_YES) for pk in yes),
        *((pk, GoldReview.Decision.GOLD_NO) for pk in no),
        *((pk, GoldReview.Decision.SKIPPED) for pk in skip),
    ]:
        _review_record(project=project, item=items[pk], decision=decision, reviewer=reviewer)
    _synsets_need_recompute(project=project, synset_ids={items[pk].synset_id for pk in yes + no})
    return GoldReviewResult(len(yes), len(no), len(skip))


def _review_record(
    *, project: Project, item: Item, decision: str, reviewer: AbstractBaseUser
) -> None:
    total = item.yes_votes + item.no_votes
    proposed = (item.yes_votes > item.no_votes) if item.is_seed and total else None
    if decision != GoldReview.Decision.SKIPPED:
        gold_mark(item=item, label=decision == GoldReview.Decision.GOLD_YES)
    GoldReview.objects.update_or_create(
        item=item,
        defaults={"project": project, "decision": decision, "proposed_label": proposed,
                  "reviewer": reviewer},
    )  # fmt: skip


def _synsets_need_recompute(*, project: Project, synset_ids: set[str]) -> None:
    """Gold answers anchor the consensus: the synsets that got some are recomputed once this
    commits. Announced, not flagged here: the recompute's debounce enqueues only when it flips
    ``needs_recompute`` itself, so a flag set here would leave every later vote of the synset
    waiting for the periodic sweep."""
    for synset_id in sorted(synset_ids):
        synset_votes_changed_on_commit(project_id=project.pk, synset_id=synset_id)


@transaction.atomic
def gold_add(
    *, project: Project, candidate_id: int, label: bool, reviewer: AbstractBaseUser
) -> Item:
    """Make a stored candidate of one of the project's labelled synsets a gold image, creating
    its item when the project has none for it yet. ValidationError otherwise."""
    candidate = Candidate.objects.filter(pk=candidate_id).first()
    if candidate is None or candidate.status != Candidate.Status.STORED:
        raise ValidationError(f"Candidate {candidate_id} is not a stored image.")
    if candidate.synset_id not in set(project_labelled_synsets(project=project)):
        raise ValidationError(
            f"Candidate {candidate_id} belongs to {candidate.synset_id}, which this project "
            "does not label."
        )
    item, _ = Item.objects.get_or_create(
        project=project,
        candidate=candidate,
        defaults={"synset_id": candidate.synset_id, "votes_needed": 0},
    )
    item = Item.objects.select_for_update(no_key=True).get(pk=item.pk)
    decision = GoldReview.Decision.GOLD_YES if label else GoldReview.Decision.GOLD_NO
    _review_record(project=project, item=item, decision=decision, reviewer=reviewer)
    _synsets_need_recompute(project=project, synset_ids={item.synset_id})
    return item
