"""Query expansion for image search, as Deng et al. 2009 §3.1 built ImageNet's queries: every
synonym; the synonym with a parent synset's word when that word appears in the gloss
("whippet dog", "whippet greyhound"); and translations from other wordnets."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class QuerySpec:
    text: str
    kind: str  # "synonym" | "parent" | "translation"
    language: str


def _clean(text: str) -> str:
    return " ".join(text.replace("_", " ").split())


def _in_gloss(word: str, gloss: str) -> bool:
    """Whole-word (or whole-phrase), case-insensitive match; plural "dogs" counts for "dog"."""
    pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, word.split())) + r"(?:s|es)?(?!\w)"
    return re.search(pattern, gloss, flags=re.IGNORECASE) is not None


def expand_queries(
    *,
    lemmas: Sequence[str],
    gloss: str,
    parent_lemmas: Sequence[Sequence[str]],
    translations: Mapping[str, Sequence[str]],
) -> list[QuerySpec]:
    """The synset's queries in a stable order, deduplicated case-insensitively per language."""
    specs: list[QuerySpec] = []
    seen: set[tuple[str, str]] = set()

    def add(text: str, kind: str, language: str) -> None:
        text = _clean(text)
        key = (language, text.casefold())
        if text and key not in seen:
            seen.add(key)
            specs.append(QuerySpec(text, kind, language))

    synonyms = [_clean(lemma) for lemma in lemmas if _clean(lemma)]
    for synonym in synonyms:
        add(synonym, "synonym", "eng")
    parent_words = [
        _clean(word)
        for lemmas_of_parent in parent_lemmas
        for word in lemmas_of_parent
        if _clean(word) and _in_gloss(_clean(word), gloss)
    ]
    for synonym in synonyms:
        for word in parent_words:
            if word.casefold() not in synonym.casefold():
                add(f"{synonym} {word}", "parent", "eng")
    for language in sorted(translations):
        for word in translations[language]:
            add(word, "translation", language)
    return specs
