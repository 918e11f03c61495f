"""Subtree selection and presets, checked against nltk's own closure."""

from __future__ import annotations

import pytest
from django.conf import settings

from synsets import selectors
from synsets.presets import IMAGENET_2009_SUBTREES, WnidListError, read_wnid_list
from synsets.wordnet import load_wordnet

pytestmark = pytest.mark.django_db


def _nltk_subtree_size(offset: int) -> int:
    reader = load_wordnet(nltk_data=settings.NLTK_DATA, system_dir=settings.WORDNET_SYSTEM_DIR)
    synset = reader.synset_from_pos_and_offset("n", offset)
    below = set(synset.closure(lambda s: s.hyponyms() + s.instance_hyponyms()))
    return len(below) + 1


@pytest.mark.parametrize("wnid", ["n02084071", "n01861778"])
def test_subtree_size_equals_nltk_closure(wordnet, wnid):
    expected = _nltk_subtree_size(int(wnid[1:]))
    assert selectors.synset_subtree([wnid]).count() == expected
    assert selectors.synset_get(wnid).subtree_size == expected


def test_subtree_of_overlapping_roots_is_deduplicated(wordnet):
    dogs = selectors.synset_subtree(["n02084071"]).count()
    both = selectors.synset_subtree(["n02084071", "n01861778"]).count()
    assert both == selectors.synset_subtree(["n01861778"]).count()
    assert both > dogs


def test_presets_resolve_to_the_named_synsets(wordnet):
    for name, wnid in IMAGENET_2009_SUBTREES.items():
        synset = selectors.synset_get(wnid)
        assert name in [lemma.casefold() for lemma in synset.lemmas], (name, synset.lemmas)
    total = selectors.synset_subtree(IMAGENET_2009_SUBTREES.values()).count()
    assert total > 5_247  # ImageNet 2009 used 5,247 of them (the ones with enough images)


def test_resolve_by_lemma_wnid_and_preset(wordnet):
    assert selectors.synset_resolve("dog")[0].wnid == "n02084071"
    assert [s.wnid for s in selectors.synset_resolve("n02084071")] == ["n02084071"]
    assert [s.wnid for s in selectors.synset_resolve("Musical Instrument")] == ["n03800933"]
    assert selectors.synset_resolve("no such lemma at all") == []


def test_imagenet_1k_wnid_list(wordnet, shared_data):
    wnids = read_wnid_list(shared_data / "imagenet-lists" / "imagenet_synsets.txt")
    assert len(wnids) == 1000
    assert wnids[0] == "n01440764"
    assert selectors.synset_subtree(wnids).count() >= 1000


def test_wnid_list_rejects_bad_lines_with_line_number(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("\ufeffn02084071\n\n# comment\nn01440764 tench\ndog\n", encoding="utf-8")
    with pytest.raises(WnidListError, match=r"list.txt:5"):
        read_wnid_list(path)
    path.write_text("\ufeffn02084071\nn02084071\n", encoding="utf-8")
    assert read_wnid_list(path) == ["n02084071"]


def test_paths_to_root(wordnet):
    paths = selectors.synset_paths_to_root("n02084071")
    assert len(paths) >= 2
    assert all(p[0].wnid == "n00001740" and p[-1].wnid == "n02084071" for p in paths)
    assert {"n01317541", "n02083346"} == {p[-2].wnid for p in paths}


def test_search_prefix_orders_exact_then_bigger_subtree(wordnet):
    results = list(selectors.synset_search("dog")[:5])
    assert results[0].wnid == "n02084071"
    assert list(selectors.synset_search("狗"))[0].wnid == "n02084071"
