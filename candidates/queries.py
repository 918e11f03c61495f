"""A synset's image-search queries (Deng et al. 2009 §3.1): built from WordNet once, then
curated by admins (add, disable)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from synsets.models import Synset, SynsetLemma
from synsets.selectors import synset_parents

from .models import SearchQuery
from .query_expansion import expand_queries


def synset_query_specs(*, synset: Synset):
    """The expanded queries for a synset, from its lemmas, parents' lemmas, gloss and
    translations (every language imported from Open Multilingual Wordnet)."""
    translations: dict[str, list[str]] = {}
    for language, lemma in (
        SynsetLemma.objects.filter(synset=synset)
        .exclude(language="eng")
        .order_by("language", "position")
        .values_list("language", "lemma")
    ):
        translations.setdefault(language, []).append(lemma)
    return expand_queries(
        lemmas=list(synset.lemmas),
        gloss=synset.gloss,
        parent_lemmas=[list(p.lemmas) for p in synset_parents(synset.wnid)],
        translations=translations,
    )


@transaction.atomic
def synset_queries_ensure(*, synset: Synset) -> QuerySet[SearchQuery]:
    """Create the synset's expanded queries if it has none yet; admins' edits are kept."""
    if not SearchQuery.objects.filter(synset=synset).exists():
        SearchQuery.objects.bulk_create(
            [
                SearchQuery(
                    synset=synset, text=spec.text[:255], kind=spec.kind, language=spec.language
                )
                for spec in synset_query_specs(synset=synset)
            ],
            ignore_conflicts=True,
        )
    return SearchQuery.objects.filter(synset=synset).order_by("id")


@transaction.atomic
def search_query_add(*, synset: Synset, text: str, language: str = "eng") -> SearchQuery:
    text = " ".join(text.split())
    if not text:
        raise ValueError("a query needs some text")
    query, _ = SearchQuery.objects.get_or_create(
        synset=synset,
        language=language,
        text=text[:255],
        defaults={"kind": SearchQuery.Kind.MANUAL},
    )
    if not query.enabled:
        query.enabled = True
        query.save(update_fields=["enabled", "updated_at"])
    return query


@transaction.atomic
def search_query_set_enabled(*, query_id: int, enabled: bool) -> SearchQuery:
    query = SearchQuery.objects.select_for_update().get(pk=query_id)
    query.enabled = enabled
    query.save(update_fields=["enabled", "updated_at"])
    return query
