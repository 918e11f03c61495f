"""Synset pages: search and the synset page with every path to the root. Permission: public."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from . import selectors
from .models import Synset
from .presets import IMAGENET_2009_SUBTREES


def synset_search_page(request):
    query = request.GET.get("q", "").strip()[:200]
    page = None
    if query:
        page = Paginator(selectors.synset_search(query), 50).get_page(request.GET.get("page"))
    presets = Synset.objects.filter(wnid__in=IMAGENET_2009_SUBTREES.values()).order_by("wnid")
    return render(
        request, "synsets/search.html", {"query": query, "page": page, "presets": presets}
    )


def synset_detail_page(request, wnid: str):
    try:
        synset = selectors.synset_get(wnid)
    except Synset.DoesNotExist:
        raise Http404(f"No synset {wnid}") from None
    context = {
        "synset": synset,
        "paths": selectors.synset_paths_to_root(wnid),
        "children": selectors.synset_children(wnid),
        "languages": _languages(synset),
    }
    return render(request, "synsets/detail.html", context)


def _languages(synset: Synset) -> list[tuple[str, list[str]]]:
    by_language: dict[str, list[str]] = {}
    for language, lemma in synset.lemma_rows.exclude(language="eng").values_list(
        "language", "lemma"
    ):
        by_language.setdefault(language, []).append(lemma)
    return sorted(by_language.items())
