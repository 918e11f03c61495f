"""Query expansion (Deng et al. 2009 §3.1) and its use on real WordNet synsets."""

from __future__ import annotations

import pytest

from candidates.query_expansion import expand_queries


def test_whippet_gets_parent_words_found_in_its_gloss():
    specs = expand_queries(
        lemmas=["whippet"],
        gloss="a small slender dog of greyhound type developed in England",
        parent_lemmas=[["greyhound"]],
        translations={},
    )
    assert [(s.text, s.kind) for s in specs] == [
        ("whippet", "synonym"),
        ("whippet greyhound", "parent"),
    ]


def test_parent_word_must_appear_in_gloss_as_a_whole_word():
    specs = expand_queries(
        lemmas=["Burmese cat"], gloss="a domestic cat of Asian origin",
        parent_lemmas=[["domestic cat", "house cat", "Felis domesticus"], ["catalyst"]],
        translations={},
    )  # fmt: skip
    texts = [s.text for s in specs]
    assert "Burmese cat domestic cat" in texts
    assert not any("house cat" in t or "catalyst" in t for t in texts)


def test_synonyms_translations_and_case_insensitive_dedupe():
    specs = expand_queries(
        lemmas=["dog", "domestic_dog", "Dog"],
        gloss="",
        parent_lemmas=[],
        translations={"cmn": ["狗", "犬"], "ita": ["cane", "Cane"]},
    )
    assert [(s.text, s.kind, s.language) for s in specs] == [
        ("dog", "synonym", "eng"),
        ("domestic dog", "synonym", "eng"),
        ("狗", "translation", "cmn"),
        ("犬", "translation", "cmn"),
        ("cane", "translation", "ita"),
    ]


@pytest.mark.django_db
def test_queries_for_real_dog_synset(wordnet):
    from candidates.queries import synset_queries_ensure
    from synsets.models import Synset

    queries = list(synset_queries_ensure(synset=Synset.objects.get(wnid="n02084071")))
    texts = {(q.text, q.kind, q.language) for q in queries}
    assert ("domestic dog", "synonym", "eng") in texts
    assert any(q.language == "cmn" and q.text == "狗" for q in queries)
    assert {q.language for q in queries} >= {"eng", "cmn", "ita", "nld"}
    whippet = synset_queries_ensure(synset=Synset.objects.get(wnid="n02091134"))
    assert "whippet greyhound" in {q.text for q in whippet if q.kind == "parent"}
    again = list(synset_queries_ensure(synset=Synset.objects.get(wnid="n02084071")))
    assert [q.pk for q in again] == [q.pk for q in queries]
