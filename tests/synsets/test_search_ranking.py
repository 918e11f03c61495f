"""Synset search ranks by match quality (exact lemma, then prefix, closer matches first, in any
language) and says which lemma and language matched."""

from __future__ import annotations

import pytest
from django.urls import reverse

from synsets import selectors

pytestmark = pytest.mark.django_db


def test_exact_lemmas_come_before_prefixes_whatever_the_subtree_size(wordnet):
    results = list(selectors.synset_search("instrument")[:40])

    ranks = [r.match_rank for r in results]
    assert ranks == sorted(ranks) and ranks[0] == 0
    exact = [r for r in results if r.match_rank == 0]
    assert all(r.matched_lemma.casefold() == "instrument" for r in exact)
    # "instrumentality" has a far bigger subtree than every "instrument" but is only a prefix.
    instrumentality = next(r for r in results if r.wnid == "n03575240")
    assert instrumentality.match_rank == 1
    assert results.index(instrumentality) > len(exact) - 1


def test_closer_prefixes_come_first(wordnet):
    results = list(selectors.synset_search("musical instr")[:10])
    lengths = [len(r.matched_lemma) for r in results]
    assert lengths == sorted(lengths)
    assert results[0].wnid == "n03800933" and results[0].matched_lemma == "musical instrument"


def test_the_common_sense_wins_among_exact_matches(wordnet):
    assert selectors.synset_search("dog")[0].wnid == "n02084071"


def test_a_lemma_in_another_language_says_which(wordnet):
    first = selectors.synset_search("狗")[0]
    assert first.wnid == "n02084071"
    assert (first.matched_lemma, first.matched_language, first.match_rank) == ("狗", "cmn", 0)


def test_a_wnid_matches_itself(wordnet):
    (hit,) = selectors.synset_search(" n02084071 ")
    assert (hit.matched_language, hit.match_rank) == ("wnid", 0)


def test_page_and_api_show_the_match(wordnet, client):
    html = client.get(reverse("synsets:search"), {"q": "狗"}).content.decode()
    assert "exact: “狗” · cmn" in html

    rows = client.get(reverse("api-synset-list"), {"search": "musical instrum"}).json()["results"]
    assert rows[0]["wnid"] == "n03800933"
    assert rows[0]["match"] == "prefix" and rows[0]["matched_language"] == "eng"
    plain = client.get(reverse("api-synset-list")).json()["results"][0]
    assert plain["match"] is None and plain["matched_lemma"] is None
