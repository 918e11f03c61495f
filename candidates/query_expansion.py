"""A synset's image-search queries built as Deng et al. 2009 §3.1 built ImageNet's: every
synonym; the synonym with a parent synset's word when that word appears in the gloss ("whippet" →
"whippet dog", "whippet greyhound"); and the lemmas of other languages' wordnets."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ENGLISH = "eng"  # Open Multilingual Wordnet's code for Princeton WordNet


@dataclass(frozen=True)
class QuerySpec:
    text: str
    kind: str  # "synonym" | "parent" | "translation"
    language: str  # ISO 639-3, as Open Multilingual Wordnet names its wordnets


def lemma_text(lemma: str) -> str:
    """A WordNet lemma as people type it: "domestic_dog" → "domestic dog"."""
    return " ".join(lemma.replace("_", " ").split())


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    # Whole words only ("cat" must not match "catalyst"); a plural in the gloss still counts
    # ("hunting dogs"), since glosses often describe a synset through its plural parent.
    words = r"\s+".join(map(re.escape, phrase.split()))
    return re.compile(rf"(?<!\w){words}(?:s|es)?(?!\w)", flags=re.IGNORECASE)


def _contains_phrase(text: str, phrase: str) -> bool:
    return _phrase_pattern(phrase).search(text) is not None


def expand_queries(
    *,
    lemmas: Sequence[str],
    gloss: str,
    parent_lemmas: Sequence[Sequence[str]],
    translations: Mapping[str, Sequence[str]],
) -> list[QuerySpec]:
    """The synset's queries: synonyms first (WordNet's lemma order), then synonym + parent word,
    then translations by language code. Deduplicated case-insensitively across kinds and
    languages (the first spelling wins), since the same text searched twice finds the same
    images."""
    specs: list[QuerySpec] = []
    seen: set[str] = set()

    def add(text: str, kind: str, language: str) -> None:
        key = text.casefold()
        if text and key not in seen:
            seen.add(key)
            specs.append(QuerySpec(text, kind, language))

    synonyms = [text for text in map(lemma_text, lemmas) if text]
    for synonym in synonyms:
        add(synonym, "synonym", ENGLISH)

    # Deng et al. 2009 §3.1: "whippet" + "dog", "greyhound" because its gloss reads "a small
    # slender dog of greyhound type"; a parent word absent from the gloss adds only noise.
    parent_words: list[str] = []
    for lemmas_of_parent in parent_lemmas:
        for word in map(lemma_text, lemmas_of_parent):
            if (
                word
                and _contains_phrase(gloss, word)
                and word.casefold() not in map(str.casefold, parent_words)
            ):
                parent_words.append(word)
    for synonym in synonyms:
        for word in parent_words:
            # "sheepdog" + "dog" is useful, "German shepherd dog" + "dog" is not.
            if not _contains_phrase(synonym, word):
                add(f"{synonym} {word}", "parent", ENGLISH)

    for language in sorted(translations):
        if language == ENGLISH:
            continue
        for lemma in translations[language]:
            add(lemma_text(lemma), "translation", language)
    return specs
