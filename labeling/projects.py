"""Labeling project services: create a project over synset subtrees, fill it with the stored
candidates as items, and pick each synset's random seed set (Deng et al. 2009 §3.2).

Stored candidates become items without anyone asking: when a project is created, when synsets
are added to it, and when a collection job over its synsets finishes (labeling.receivers).
Every path is ``project_add_candidates``, which is bulk and idempotent.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from candidates.models import Candidate
from synsets.selectors import synset_subtree

from .models import Item, Project, ProjectSynset
from .selection import Selection, selection_internal, selection_resolve

# A slug the staff pages use as a path segment (/projects/new/).
RESERVED_SLUGS = frozenset({"new", "me", "preview"})

PROJECT_SETTINGS = (
    "images_per_hit", "gold_per_hit", "target_per_synset", "seed_size", "seed_votes",
    "min_votes", "max_votes", "consensus_method", "accept_threshold", "reject_threshold",
    "lease_seconds", "reward_cents_per_hit", "gold_min_answers", "gold_block_below", "active",
    "open_to_all_annotators", "label_internal",
)  # fmt: skip


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "project"
    slug, n = base, 2
    while Project.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def project_create(
    *,
    name: str,
    synset_specs: Iterable[str] = (),
    preset: str = "",
    wnid_list: Iterable[str] = (),
    wnids: Iterable[str] = (),
    owners: Iterable[AbstractBaseUser] = (),
    slug: str | None = None,
    include_subtrees: bool | None = None,
    add_candidates: bool = True,
    **settings: Any,
) -> Project:
    """Create a project over synsets chosen one way — specs (wnids or lemmas in any language),
    one ImageNet preset, or a wnid list — with their subtrees by default (not for a wnid list),
    and turn the candidates already stored for them into items.

    ``wnids`` (roots, no resolution) serves callers that already hold wnids. Unknown settings,
    an unresolvable spec, two ways of selecting at once or a taken slug raise ValidationError
    and nothing is stored."""
    unknown = set(settings) - set(PROJECT_SETTINGS)
    if unknown:
        raise ValidationError(f"unknown project settings: {', '.join(sorted(unknown))}")
    synset_specs, wnid_list, wnids = list(synset_specs), list(wnid_list), list(wnids)
    if wnids and not (synset_specs or preset or wnid_list):
        selection = None
        subtrees = True if include_subtrees is None else include_subtrees
        synset_ids = (
            list(synset_subtree(wnids).values_list("wnid", flat=True)) if subtrees else wnids
        )
        missing = set(wnids) - set(synset_ids)
        if missing:
            raise ValidationError(f"unknown wnids: {', '.join(sorted(missing))}")
    else:
        selection = selection_resolve(
            synsets=synset_specs + wnids,
            preset=preset,
            wnid_list=wnid_list,
            include_subtrees=include_subtrees,
        )
        synset_ids = selection.wnids
    if slug is not None:
        _slug_check(slug)
    project = Project(name=name, slug=slug or _unique_slug(name), **settings)
    project.full_clean()
    project.save()
    project.owners.set(list(owners))
    ProjectSynset.objects.bulk_create(
        [ProjectSynset(project=project, synset_id=wnid) for wnid in sorted(set(synset_ids))],
        ignore_conflicts=True,
    )
    project.selection = selection  # type: ignore[attr-defined]  # for the caller's summary
    if add_candidates:
        project_add_candidates(project=project)
    return project


def _slug_check(slug: str) -> None:
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"{slug!r} is reserved; choose another slug."})
    if Project.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A project with the slug {slug!r} already exists."})


@transaction.atomic
def project_add_synsets(
    *, project: Project, selection: Selection, add_candidates: bool = True
) -> int:
    """Add a selection's synsets to a project (those already in it are kept) and turn their
    stored candidates into items. Returns the number of synsets added."""
    have = set(project.project_synsets.values_list("synset_id", flat=True))
    new = [wnid for wnid in selection.wnids if wnid not in have]
    ProjectSynset.objects.bulk_create(
        [ProjectSynset(project=project, synset_id=wnid) for wnid in new], ignore_conflicts=True
    )
    if add_candidates and new:
        project_add_candidates(project=project)
    return len(new)


def project_labelled_synsets(*, project: Project) -> list[str]:
    """The project's synsets that get items: all of them, or only the leaves of the project
    when it does not label internal synsets."""
    wnids = list(project.project_synsets.values_list("synset_id", flat=True))
    if project.label_internal:
        return wnids
    internal = selection_internal(wnids)
    return [wnid for wnid in wnids if wnid not in internal]


@transaction.atomic
def project_update(*, project: Project, **settings: Any) -> Project:
    unknown = set(settings) - {"name", *PROJECT_SETTINGS}
    if unknown:
        raise ValidationError(f"unknown project settings: {', '.join(sorted(unknown))}")
    for field, value in settings.items():
        setattr(project, field, value)
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def project_add_candidates(*, project: Project, seed: int | None = None) -> int:
    """Create an item for every stored candidate of the project's synsets (idempotent) and top
    up each synset's random seed set to ``seed_size``. Returns the number of new items.

    Seed items need ``seed_votes`` votes (≥ 10, Deng et al. 2009 §3.2) to estimate the
    synset's confidence table; the others start at ``min_votes``.
    """
    # One filler per project at a time (a job finishing while synsets are added): the seed sets
    # are topped up from a consistent count.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    synset_ids = project_labelled_synsets(project=project)
    existing = Item.objects.filter(project=project).values("candidate_id")
    candidates = (
        Candidate.objects.filter(synset_id__in=synset_ids, status=Candidate.Status.STORED)
        .exclude(pk__in=existing)
        .order_by("pk")
        .values_list("pk", "synset_id")
    )
    created = Item.objects.bulk_create(
        [
            Item(
                project=project,
                synset_id=synset_id,
                candidate_id=pk,
                votes_needed=project.min_votes,
            )
            for pk, synset_id in candidates.iterator(chunk_size=2000)
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    # A seeded RNG makes the seed set reproducible; nothing here is security-relevant.
    rng = random.Random(project.pk if seed is None else seed)  # noqa: S311
    _seed_sets_fill(project=project, rng=rng)
    if len(created) >= 1000 and connection.vendor == "postgresql":
        # Fresh statistics now: until autovacuum's ANALYZE runs, the scheduler's plans over a
        # bulk-loaded item table can take tens of seconds per query (seen under load).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE labeling_item")
    return len(created)


def _seed_sets_fill(*, project: Project, rng: random.Random) -> None:
    """Top up every synset's seed set with random non-gold pending items."""
    open_items = Item.objects.filter(project=project, is_gold=False, state=Item.State.PENDING)
    seeded: dict[str, int] = {}
    for synset_id, is_seed in open_items.filter(is_seed=True).values_list("synset_id", "is_seed"):
        seeded[synset_id] = seeded.get(synset_id, 0) + int(is_seed)
    by_synset: dict[str, list[int]] = {}
    for pk, synset_id in (
        open_items.filter(is_seed=False).order_by("pk").values_list("pk", "synset_id")
    ):
        by_synset.setdefault(synset_id, []).append(pk)
    chosen: list[int] = []
    for synset_id in sorted(by_synset):
        room = project.seed_size - seeded.get(synset_id, 0)
        if room > 0:
            pool = by_synset[synset_id]
            chosen.extend(rng.sample(pool, min(room, len(pool))))
    if chosen:
        Item.objects.filter(pk__in=chosen).update(is_seed=True, votes_needed=project.seed_votes)


def project_list_for(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects a staff user may see (all of them)."""
    return Project.objects.all().prefetch_related("owners")


def project_can_edit(*, project: Project, user: AbstractBaseUser) -> bool:
    """Superusers and the project's owners may edit it; other staff may only read."""
    return bool(user.is_superuser or project.owners.filter(pk=user.pk).exists())
