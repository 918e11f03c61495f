"""Labeling project services: create a project over synset subtrees, fill it with the stored
candidates as items, and pick each synset's random seed set (Deng et al. 2009 §3.2)."""

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
from synsets.selectors import synset_resolve, synset_subtree

from .models import Item, Project, ProjectSynset

PROJECT_SETTINGS = (
    "images_per_hit", "gold_per_hit", "target_per_synset", "seed_size", "seed_votes",
    "min_votes", "max_votes", "consensus_method", "accept_threshold", "reject_threshold",
    "lease_seconds", "reward_cents_per_hit", "gold_min_answers", "gold_block_below", "active",
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
    wnids: Iterable[str] = (),
    owners: Iterable[AbstractBaseUser] = (),
    slug: str | None = None,
    include_subtrees: bool = True,
    **settings: Any,
) -> Project:
    """Create a project over the given synsets (wnids, presets or lemmas) and, by default, their
    whole subtrees. Unknown settings or an unresolvable spec raise ValidationError."""
    unknown = set(settings) - set(PROJECT_SETTINGS)
    if unknown:
        raise ValidationError(f"unknown project settings: {', '.join(sorted(unknown))}")
    roots: list[str] = list(wnids)
    for spec in synset_specs:
        resolved = synset_resolve(spec)
        if not resolved:
            raise ValidationError(f"no synset matches {spec!r}")
        # A lemma may name several senses; the most general (biggest subtree) is meant.
        roots.append(resolved[0].wnid)
    project = Project(name=name, slug=slug or _unique_slug(name), **settings)
    project.full_clean()
    project.save()
    project.owners.set(list(owners))
    if include_subtrees:
        synset_ids = list(synset_subtree(roots).values_list("wnid", flat=True))
    else:
        synset_ids = roots
    missing = set(roots) - set(synset_ids)
    if missing:
        raise ValidationError(f"unknown wnids: {', '.join(sorted(missing))}")
    ProjectSynset.objects.bulk_create(
        [ProjectSynset(project=project, synset_id=wnid) for wnid in sorted(set(synset_ids))],
        ignore_conflicts=True,
    )
    return project


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
    synset_ids = list(project.project_synsets.values_list("synset_id", flat=True))
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
    open_items = Item.objects.filter(
        project=project, is_gold=False, state=Item.State.PENDING
    )
    seeded: dict[str, int] = {}
    for synset_id, is_seed in open_items.filter(is_seed=True).values_list("synset_id", "is_seed"):
        seeded[synset_id] = seeded.get(synset_id, 0) + int(is_seed)
    by_synset: dict[str, list[int]] = {}
    for pk, synset_id in open_items.filter(is_seed=False).order_by("pk").values_list(
        "pk", "synset_id"
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
    return bool(
        user.is_superuser or project.owners.filter(pk=user.pk).exists()
    )
