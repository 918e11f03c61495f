"""Read-side queries over the synset hierarchy: search, tree navigation and subtree selection."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Case, CharField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Length

from .models import Synset, SynsetClosure, SynsetEdge, SynsetLemma
from .presets import IMAGENET_2009_SUBTREES, WNID_PATTERN

MAX_PATHS = 64


def synset_search(query: str) -> QuerySet[Synset]:
    """Synsets whose wnid equals ``query`` or with a lemma (any language) starting with it,
    ranked by how well they match: an exact lemma first, then prefixes, shorter (closer) matches
    before longer ones; subtree size only breaks ties between equally good matches (the common
    "dog" before the slang one).

    Each result carries the lemma that matched and its language (``matched_lemma``,
    ``matched_language``; ``wnid`` for a wnid), and ``match_rank``: 0 wnid or exact lemma,
    1 prefix. Served by the ``synset_lemma_prefix`` index.
    """
    query = query.strip()
    if WNID_PATTERN.match(query):
        return Synset.objects.filter(wnid=query).annotate(
            match_rank=Value(0),
            matched_lemma=Value(query, output_field=CharField()),
            matched_language=Value("wnid", output_field=CharField()),
        )
    folded = query.casefold()
    if not folded:
        return Synset.objects.none()
    matching = SynsetLemma.objects.filter(lemma_folded__startswith=folded)
    # The synset's best-matching lemma: exact before prefix, English before other languages at
    # equal quality, the shortest, then WordNet's order of lemmas.
    best = (
        matching.filter(synset=OuterRef("pk"))
        .annotate(
            rank=Case(When(lemma_folded=folded, then=Value(0)), default=Value(1)),
            english=Case(When(language="eng", then=Value(0)), default=Value(1)),
            length=Length("lemma_folded"),
        )
        .order_by("rank", "english", "length", "position", "language")
    )
    return (
        Synset.objects.filter(wnid__in=matching.values("synset_id"))
        .annotate(
            match_rank=Subquery(best.values("rank")[:1]),
            match_length=Subquery(best.values("length")[:1]),
            matched_lemma=Subquery(best.values("lemma")[:1]),
            matched_language=Subquery(best.values("language")[:1]),
        )
        .order_by("match_rank", "match_length", "-subtree_size", "wnid")
    )


def synset_get(wnid: str) -> Synset:
    return Synset.objects.get(wnid=wnid)


def synset_parents(wnid: str) -> QuerySet[Synset]:
    return Synset.objects.filter(child_edges__child_id=wnid).order_by("wnid")


def synset_children(wnid: str) -> QuerySet[Synset]:
    return Synset.objects.filter(parent_edges__parent_id=wnid).order_by("-subtree_size", "wnid")


def synset_ancestors(wnid: str) -> QuerySet[Synset]:
    """All ancestors (not the synset itself), nearest first, with ``distance`` annotated."""
    rows = SynsetClosure.objects.filter(descendant_id=wnid, distance__gt=0)
    return (
        Synset.objects.filter(wnid__in=rows.values("ancestor_id"))
        .annotate(distance=rows.filter(ancestor_id=OuterRef("pk")).values("distance")[:1])
        .order_by("distance", "wnid")
    )


def synset_descendants(wnid: str) -> QuerySet[Synset]:
    """All descendants (not the synset itself), nearest first, with ``distance`` annotated."""
    rows = SynsetClosure.objects.filter(ancestor_id=wnid, distance__gt=0)
    return (
        Synset.objects.filter(wnid__in=rows.values("descendant_id"))
        .annotate(distance=rows.filter(descendant_id=OuterRef("pk")).values("distance")[:1])
        .order_by("distance", "wnid")
    )


def synset_paths_to_root(wnid: str) -> list[list[Synset]]:
    """Every IS-A path from the root to ``wnid`` (root first), at most MAX_PATHS, in 2 queries."""
    ancestor_ids = SynsetClosure.objects.filter(descendant_id=wnid).values("ancestor_id")
    synsets = {s.wnid: s for s in Synset.objects.filter(wnid__in=ancestor_ids)}
    if wnid not in synsets:
        return []
    parents: dict[str, list[str]] = {}
    for parent_id, child_id in SynsetEdge.objects.filter(child_id__in=list(synsets)).values_list(
        "parent_id", "child_id"
    ):
        parents.setdefault(child_id, []).append(parent_id)
    paths: list[list[Synset]] = []
    stack: list[list[str]] = [[wnid]]
    while stack and len(paths) < MAX_PATHS:
        path = stack.pop()
        ups = sorted(parents.get(path[-1], []), reverse=True)
        if not ups:
            paths.append([synsets[w] for w in reversed(path)])
        stack.extend([*path, up] for up in ups)
    return sorted(paths, key=lambda p: [s.wnid for s in p])


def synset_resolve(spec: str) -> list[Synset]:
    """Resolve a wnid, an ImageNet-2009 preset name or an English lemma to candidate synsets."""
    spec = spec.strip()
    if WNID_PATTERN.match(spec):
        return list(Synset.objects.filter(wnid=spec))
    preset = IMAGENET_2009_SUBTREES.get(spec.casefold())
    if preset:
        return list(Synset.objects.filter(wnid=preset))
    lemma = spec.replace("_", " ").casefold()
    return list(
        Synset.objects.filter(
            wnid__in=SynsetLemma.objects.filter(language="eng", lemma_folded=lemma).values(
                "synset_id"
            )
        ).order_by("-subtree_size", "wnid")
    )


def synset_subtree(roots: Iterable[str]) -> QuerySet[Synset]:
    """The roots and all their descendants, each once even if reachable through several parents."""
    roots = list(roots)
    return Synset.objects.filter(
        wnid__in=SynsetClosure.objects.filter(ancestor_id__in=roots).values("descendant_id")
    )
