"""Query expansion (Deng et al. 2009 §3.1): synonyms, synonym + parent word found in the gloss,
translations; and its use on real WordNet synsets."""

from __future__ import annotations

import pytest

from candidates.query_expansion import QuerySpec, expand_queries

WHIPPET_GLOSS = "a small slender dog of greyhound type developed in England"


def _triples(specs: list[QuerySpec]) -> list[tuple[str, str, str]]:
    return [(spec.text, spec.kind, spec.language) for spec in specs]


def test_whippet_is_joined_with_every_parent_word_its_gloss_mentions():
    specs = expand_queries(
        lemmas=["whippet"],
        gloss=WHIPPET_GLOSS,
        parent_lemmas=[["dog", "domestic_dog", "Canis_familiaris"], ["greyhound"]],
        translations={},
    )
    assert _triples(specs) == [
        ("whippet", "synonym", "eng"),
        ("whippet dog", "parent", "eng"),
        ("whippet greyhound", "parent", "eng"),
    ]


def test_every_synonym_is_a_query_with_underscores_as_spaces():
    specs = expand_queries(
        lemmas=["dog", "domestic_dog", "Canis_familiaris"],
        gloss="a member of the genus Canis",
        parent_lemmas=[["canine", "canid"]],
        translations={},
    )
    assert _triples(specs) == [
        ("dog", "synonym", "eng"),
        ("domestic dog", "synonym", "eng"),
        ("Canis familiaris", "synonym", "eng"),
    ]


def test_parent_words_match_whole_words_case_insensitively():
    specs = expand_queries(
        lemmas=["Burmese_cat"],
        gloss="A Domestic Cat of Asian origin; not a catalyst for any category",
        parent_lemmas=[["domestic_cat", "house_cat", "Felis_domesticus"], ["cat", "catalyst"]],
        translations={},
    )
    parents = [spec.text for spec in specs if spec.kind == "parent"]
    # "cat" is in "Burmese cat" already; "catalyst" does occur, as a whole word.
    assert parents == ["Burmese cat domestic cat", "Burmese cat catalyst"]


def test_parent_word_inside_a_longer_word_does_not_count():
    specs = expand_queries(
        lemmas=["tabby"], gloss="a categorically striped coat", parent_lemmas=[["cat"]],
        translations={},
    )  # fmt: skip
    assert [spec.kind for spec in specs] == ["synonym"]


def test_multiword_parent_lemma_matches_across_spacing_and_plural():
    specs = expand_queries(
        lemmas=["beagle"],
        gloss="a small short-legged smooth-coated breed of\nhunting   dogs",
        parent_lemmas=[["hound", "hound_dog"], ["hunting_dog"]],
        translations={},
    )
    assert [spec.text for spec in specs if spec.kind == "parent"] == ["beagle hunting dog"]


def test_parent_word_already_in_the_synonym_adds_no_query():
    specs = expand_queries(
        lemmas=["German_shepherd_dog", "Alsatian"],
        gloss="breed of large shepherd dogs used in police work",
        parent_lemmas=[["shepherd_dog", "sheepdog"]],
        translations={},
    )
    assert [spec.text for spec in specs if spec.kind == "parent"] == ["Alsatian shepherd dog"]


def test_translations_keep_their_language_for_any_wordnet():
    specs = expand_queries(
        lemmas=["dog"],
        gloss="",
        parent_lemmas=[],
        translations={"nld": ["hond"], "cmn": ["狗", "犬"], "spa": ["perro_doméstico"]},
    )
    assert _triples(specs) == [
        ("dog", "synonym", "eng"),
        ("狗", "translation", "cmn"),
        ("犬", "translation", "cmn"),
        ("hond", "translation", "nld"),
        ("perro doméstico", "translation", "spa"),
    ]


def test_duplicates_are_dropped_case_insensitively_keeping_the_first():
    specs = expand_queries(
        lemmas=["whippet", "Whippet", "  ", "whippet_"],
        gloss=WHIPPET_GLOSS,
        parent_lemmas=[["greyhound"], ["Greyhound"]],
        translations={"ita": ["whippet", "cane", "Cane"], "nld": ["WHIPPET"], "eng": ["dog"]},
    )
    assert _triples(specs) == [
        ("whippet", "synonym", "eng"),
        ("whippet greyhound", "parent", "eng"),
        ("cane", "translation", "ita"),
    ]


def test_order_is_stable_whatever_the_dict_order_of_translations():
    arguments = {"lemmas": ["dog"], "gloss": "", "parent_lemmas": []}
    one = expand_queries(**arguments, translations={"ita": ["cane"], "cmn": ["狗"]})
    other = expand_queries(**arguments, translations={"cmn": ["狗"], "ita": ["cane"]})
    assert one == other


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
