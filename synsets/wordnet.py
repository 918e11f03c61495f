"""Find WordNet 3.0 for nltk offline; read its noun hierarchy and Open Multilingual Wordnet lemmas.

nltk's downloader cannot reach the internet on our machines (README.md, WordNet): Debian's
``wordnet-base`` ships the database in /usr/share/wordnet, which nltk reads once it is copied to
``<NLTK_DATA>/corpora/wordnet/`` together with the ``lexnames`` file Debian lacks.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nltk

# From `man 5 lexnames` (WordNet 3.0): file number, lexicographer file, syntactic category
# (1 noun, 2 verb, 3 adjective, 4 adverb). Debian's wordnet-base does not ship this file.
LEXNAMES = [
    "adj.all 3", "adj.pert 3", "adv.all 4", "noun.Tops 1", "noun.act 1", "noun.animal 1",
    "noun.artifact 1", "noun.attribute 1", "noun.body 1", "noun.cognition 1",
    "noun.communication 1", "noun.event 1", "noun.feeling 1", "noun.food 1", "noun.group 1",
    "noun.location 1", "noun.motive 1", "noun.object 1", "noun.person 1", "noun.phenomenon 1",
    "noun.plant 1", "noun.possession 1", "noun.process 1", "noun.quantity 1", "noun.relation 1",
    "noun.shape 1", "noun.state 1", "noun.substance 1", "noun.time 1", "verb.body 2",
    "verb.change 2", "verb.cognition 2", "verb.communication 2", "verb.competition 2",
    "verb.consumption 2", "verb.contact 2", "verb.creation 2", "verb.emotion 2", "verb.motion 2",
    "verb.perception 2", "verb.possession 2", "verb.social 2", "verb.stative 2",
    "verb.weather 2", "adj.ppl 3",
]  # fmt: skip

# Files nltk's WordNetCorpusReader opens.
_WORDNET_FILES = [
    f"{kind}.{pos}" for kind in ("data", "index") for pos in ("noun", "verb", "adj", "adv")
] + ["noun.exc", "verb.exc", "adj.exc", "adv.exc", "index.sense"]

REMEDY = (
    "WordNet 3.0 was not found. Either install Debian's copy "
    "(`apt-get install wordnet-base wordnet-sense-index`, read from {system_dir}) or download "
    "nltk's: `python -c \"import nltk; nltk.download('wordnet')\"` (searched in: {paths})."
)


class WordNetUnavailable(RuntimeError):
    """No WordNet database could be found or laid out for nltk."""


@dataclass(frozen=True)
class NounSynset:
    wnid: str
    lemmas: list[str]
    gloss: str
    lexname: str
    hypernyms: list[str] = field(default_factory=list)
    instance_hypernyms: list[str] = field(default_factory=list)


def wnid_for_offset(offset: int) -> str:
    """ImageNet names a noun synset by 'n' and its 8-digit WordNet 3.0 offset."""
    return f"n{offset:08d}"


def install_system_wordnet(system_dir: Path, nltk_data: Path) -> Path:
    """Copy Debian's WordNet files into nltk's layout (copies: nltk refuses outside symlinks)."""
    target = nltk_data / "corpora" / "wordnet"
    target.mkdir(parents=True, exist_ok=True)
    for name in _WORDNET_FILES:
        source = system_dir / name
        if source.is_file():
            shutil.copyfile(source, target / name)
    lexnames = "".join(f"{i:02d}\t{line.replace(' ', chr(9))}\n" for i, line in enumerate(LEXNAMES))
    (target / "lexnames").write_text(lexnames)
    return target


def locate_wordnet(*, nltk_data: Path, system_dir: Path):
    """Find WordNet where nltk looks for it (a folder or nltk's zip), laying out Debian's files
    under ``nltk_data`` if needed; returns nltk's path pointer to the corpus root."""
    # nltk only opens corpora under a directory on nltk.data.path (a security check), so ours
    # has to be registered there, first.
    if str(nltk_data) not in nltk.data.path:
        nltk.data.path.insert(0, str(nltk_data))
    paths = list(nltk.data.path)
    try:
        return nltk.data.find("corpora/wordnet", paths=paths)
    except LookupError:
        if not (system_dir / "data.noun").is_file():
            raise WordNetUnavailable(
                REMEDY.format(system_dir=system_dir, paths=", ".join(paths))
            ) from None
        install_system_wordnet(system_dir, nltk_data)
        return nltk.data.find("corpora/wordnet", paths=paths)


def load_wordnet(*, nltk_data: Path, system_dir: Path):
    """Return nltk's WordNet 3.0 reader, laying out Debian's files under ``nltk_data`` if needed.

    Building the reader indexes every part of speech (seconds); the importer reads data.noun
    itself (``read_noun_synsets``) and keeps nltk for locating the files."""
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = locate_wordnet(nltk_data=nltk_data, system_dir=system_dir)
    with warnings.catch_warnings():
        # Multilingual lemmas are read from OMW tab files directly (read_omw_lemmas).
        warnings.filterwarnings("ignore", message="The multilingual functions")
        reader = WordNetCorpusReader(root, None)
    if reader.get_version() != "3.0":
        raise WordNetUnavailable(
            f"Found WordNet {reader.get_version()} at {root}; SynsetLab needs 3.0"
        )
    return reader


def _display(lemma_name: str) -> str:
    return lemma_name.replace("_", " ")


def iter_noun_synsets(reader) -> Iterator[NounSynset]:
    for synset in reader.all_synsets("n"):
        yield NounSynset(
            wnid=wnid_for_offset(synset.offset()),
            lemmas=[_display(name) for name in synset.lemma_names()],
            gloss=synset.definition(),
            lexname=synset.lexname(),
            hypernyms=[wnid_for_offset(p.offset()) for p in synset.hypernyms()],
            instance_hypernyms=[wnid_for_offset(p.offset()) for p in synset.instance_hypernyms()],
        )


_VERSION = re.compile(r"Word[nN]et (\d+\+?|\d+\.\d+) Copyright")
_QUOTED = re.compile(r'".*?"')


def _read_text(root, name: str) -> str:
    with root.join(name).open() as stream:
        raw = stream.read()
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


def _lexnames(root) -> list[str]:
    try:
        text = _read_text(root, "lexnames")
    except (OSError, KeyError):
        text = ""
    names = [line.split()[1] for line in text.splitlines() if len(line.split()) >= 2]
    return names or [line.split()[0] for line in LEXNAMES]


def read_noun_synsets(root) -> list[NounSynset]:
    """Every noun synset of WordNet's ``data.noun`` in file order, read straight from the file
    (format: wndb(5)) — the same fields nltk's reader gives (lemma names, definition without
    its quoted examples, lexicographer file, @ and @i pointers) in a fraction of its time.

    ``root`` is a path pointer from ``locate_wordnet`` (a folder or nltk's zip)."""
    lexnames = _lexnames(root)
    text = _read_text(root, "data.noun")
    version = None
    synsets: list[NounSynset] = []
    for line in text.splitlines():
        if line.startswith("  "):  # licence header
            if version is None and (match := _VERSION.search(line)):
                version = match.group(1)
            continue
        if not line.strip():
            continue
        columns, _, gloss = line.partition("|")
        fields = columns.split()
        offset, lex_index = int(fields[0]), int(fields[1])
        n_words = int(fields[3], 16)
        lemmas = [_display(fields[4 + 2 * i]) for i in range(n_words)]
        position = 4 + 2 * n_words
        n_pointers = int(fields[position])
        hypernyms: list[str] = []
        instance_hypernyms: list[str] = []
        for i in range(n_pointers):
            symbol, target, pos = fields[position + 1 + 4 * i : position + 4 + 4 * i]
            if pos == "n" and symbol in ("@", "@i"):
                target_wnid = wnid_for_offset(int(target))
                (hypernyms if symbol == "@" else instance_hypernyms).append(target_wnid)
        synsets.append(
            NounSynset(
                wnid=wnid_for_offset(offset),
                lemmas=lemmas,
                gloss=_QUOTED.sub("", gloss).strip().strip("; "),
                lexname=lexnames[lex_index],
                hypernyms=list(dict.fromkeys(hypernyms)),
                instance_hypernyms=list(dict.fromkeys(instance_hypernyms)),
            )
        )
    if version != "3.0":
        raise WordNetUnavailable(f"Found WordNet {version} at {root}; SynsetLab needs 3.0")
    return synsets


def omw_files(omw_dir: Path) -> list[Path]:
    """The OMW tab files an import reads, in order (none when the folder is missing)."""
    return sorted(omw_dir.glob("*/wn-data-*.tab")) if omw_dir.is_dir() else []


def read_omw_lemmas(omw_dir: Path) -> dict[str, dict[str, list[str]]]:
    """Read noun lemmas from Open Multilingual Wordnet tab files: {language: {wnid: [lemma, ...]}}.

    Layout as nltk reads it: ``<omw_dir>/<lang>/wn-data-<lang>.tab``; rows are
    ``<offset>-<pos><TAB><lang>:lemma<TAB><word>``. Missing directory → no languages.
    """
    languages: dict[str, dict[str, list[str]]] = {}
    for tab in omw_files(omw_dir):
        language = tab.stem.removeprefix("wn-data-")
        by_wnid: dict[str, list[str]] = {}
        with tab.open(encoding="utf-8") as rows:
            for row in rows:
                if row.startswith("#"):
                    continue
                parts = row.rstrip("\n").split("\t")
                if len(parts) < 3 or not parts[1].endswith(":lemma"):
                    continue
                offset_pos, word = parts[0], parts[2].strip()
                offset, _, pos = offset_pos.partition("-")
                if pos != "n" or not offset.isdigit() or not word:
                    continue
                lemmas = by_wnid.setdefault(wnid_for_offset(int(offset)), [])
                word = _display(word)
                if word not in lemmas:
                    lemmas.append(word)
        if by_wnid:
            languages[language] = by_wnid
    return languages
