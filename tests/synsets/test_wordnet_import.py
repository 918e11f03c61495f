"""The import against the real WordNet 3.0 files (the figures in README.md, WordNet)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from synsets.importer import hierarchy_build, wordnet_import
from synsets.models import Synset, SynsetClosure, SynsetEdge, SynsetLemma, WordNetImport
from synsets.wordnet import NounSynset, WordNetUnavailable, load_wordnet, read_omw_lemmas

pytestmark = pytest.mark.django_db


def test_import_counts_match_wordnet_3_0(wordnet):
    assert Synset.objects.count() == 82_115
    assert SynsetEdge.objects.count() == 84_427
    assert wordnet.synsets.total == 82_115
    assert SynsetEdge.objects.filter(kind=SynsetEdge.Kind.INSTANCE_HYPERNYM).exists()
    assert SynsetClosure.objects.filter(distance=0).count() == 82_115


def test_dog_parents_and_ancestors(wordnet):
    parents = set(
        SynsetEdge.objects.filter(child_id="n02084071").values_list("parent_id", flat=True)
    )
    assert parents == {"n01317541", "n02083346"}
    ancestors = set(
        SynsetClosure.objects.filter(descendant_id="n02084071").values_list(
            "ancestor_id", flat=True
        )
    )
    assert {"n01861778", "n00001740"} <= ancestors
    dog = Synset.objects.get(wnid="n02084071")
    assert dog.lemmas == ["dog", "domestic dog", "Canis familiaris"]
    assert dog.lexname == "noun.animal"
    assert "Canis" in dog.gloss or "domesticated" in dog.gloss


def test_entity_is_the_only_root(wordnet):
    assert list(Synset.objects.filter(depth=0).values_list("wnid", flat=True)) == ["n00001740"]
    assert Synset.objects.get(wnid="n00001740").subtree_size == 82_115


def test_every_imagenet_1k_wnid_exists_with_matching_first_lemma(wordnet, shared_data):
    lists = shared_data / "imagenet-lists"
    wnids = (lists / "imagenet_synsets.txt").read_text().split()
    assert len(wnids) == 1000
    imagenet_lemma = {}
    for line in (lists / "imagenet_synset_to_lemma.txt").read_text().splitlines():
        wnid, _, lemmas = line.partition("\t")
        imagenet_lemma[wnid] = lemmas.split(", ")[0]
    ours = dict(
        (wnid, lemmas[0])
        for wnid, lemmas in Synset.objects.filter(wnid__in=wnids).values_list("wnid", "lemmas")
    )
    assert set(ours) == set(wnids)
    mismatched = {w: (ours[w], imagenet_lemma[w]) for w in wnids if ours[w] != imagenet_lemma[w]}
    assert mismatched == {}


def test_imagenet_21k_wnids_exist(wordnet, shared_data):
    wnids = set(
        (shared_data / "imagenet-lists" / "imagenet21k_goog_synsets.txt").read_text().split()
    )
    assert len(wnids) >= 21_841
    assert Synset.objects.filter(wnid__in=wnids).count() == len(wnids)


def test_multilingual_lemmas_are_stored_per_language(wordnet):
    languages = set(SynsetLemma.objects.values_list("language", flat=True).distinct())
    assert {"eng", "cmn", "ita", "nld"} <= languages
    assert SynsetLemma.objects.filter(synset_id="n02084071", language="cmn", lemma="狗").exists()
    assert SynsetLemma.objects.filter(synset_id="n02084071", language="ita", lemma="cane").exists()


def test_second_import_changes_nothing(wordnet, shared_data):
    before = (SynsetClosure.objects.count(), SynsetLemma.objects.count())
    summary = wordnet_import(
        nltk_data=settings.NLTK_DATA,
        system_dir=settings.WORDNET_SYSTEM_DIR,
        omw_dir=shared_data / "omw",
        force=True,
    )
    assert not summary.changed, summary.line()
    assert summary.unchanged_since is None  # every row was compared
    assert (SynsetClosure.objects.count(), SynsetLemma.objects.count()) == before
    assert Synset.objects.count() == 82_115


def test_a_rerun_over_the_same_files_and_rows_compares_nothing(wordnet, shared_data):
    record = WordNetImport.objects.get()
    assert record.counts() == {
        "synsets": Synset.objects.count(), "edges": SynsetEdge.objects.count(),
        "closure": SynsetClosure.objects.count(), "lemmas": SynsetLemma.objects.count(),
    }  # fmt: skip
    args = {"nltk_data": settings.NLTK_DATA, "system_dir": settings.WORDNET_SYSTEM_DIR}
    summary = wordnet_import(**args, omw_dir=shared_data / "omw")
    assert summary.unchanged_since == record.finished_at and not summary.changed
    assert summary.synsets.total == Synset.objects.count()
    assert "nothing to do" in summary.line() and "--force" in summary.line()
    # Other files (here: without the multilingual lemmas) are a different import: compared,
    # written, recorded.
    summary = wordnet_import(**args, omw_dir=None)
    assert summary.unchanged_since is None and summary.lemmas.deleted > 0
    assert WordNetImport.objects.get().fingerprint != record.fingerprint
    # A lost row changes a count: the next run compares and puts it back.
    SynsetLemma.objects.filter(synset_id="n02084071").delete()
    summary = wordnet_import(**args, omw_dir=None)
    assert summary.unchanged_since is None and summary.lemmas.created == 3


def test_a_fingerprint_covers_the_files_an_import_reads(tmp_path, shared_data):
    from synsets.importer import source_fingerprint
    from synsets.wordnet import locate_wordnet

    root = locate_wordnet(nltk_data=settings.NLTK_DATA, system_dir=settings.WORDNET_SYSTEM_DIR)
    omw = tmp_path / "omw"
    (omw / "ita").mkdir(parents=True)
    tab = omw / "ita" / "wn-data-ita.tab"
    tab.write_text("02084071-n\tita:lemma\tcane\n", encoding="utf-8")
    first = source_fingerprint(root, omw)
    assert source_fingerprint(root, omw) == first
    tab.write_text("02084071-n\tita:lemma\tcagnolino\n", encoding="utf-8")
    assert source_fingerprint(root, omw) != first
    assert source_fingerprint(root, None) != first


def test_import_repairs_a_damaged_hierarchy(wordnet, shared_data):
    SynsetEdge.objects.filter(child_id="n02084071").delete()
    SynsetClosure.objects.filter(descendant_id="n02085620").delete()
    Synset.objects.filter(wnid="n02084071").update(gloss="vandalised")
    summary = wordnet_import(
        nltk_data=settings.NLTK_DATA, system_dir=settings.WORDNET_SYSTEM_DIR, omw_dir=None,
        force=True,  # the gloss edit alone keeps every count: only --force finds it
    )  # fmt: skip
    assert summary.edges.created == 2
    assert summary.closure.created > 0
    assert summary.synsets.updated == 1
    assert Synset.objects.get(wnid="n02084071").gloss != "vandalised"


def test_missing_wordnet_names_both_remedies(tmp_path, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "elsewhere")])
    with pytest.raises(WordNetUnavailable) as excinfo:
        load_wordnet(nltk_data=tmp_path / "nltk", system_dir=tmp_path / "none")
    message = str(excinfo.value)
    assert "apt-get install wordnet-base wordnet-sense-index" in message
    assert "nltk.download('wordnet')" in message


def test_debian_files_are_laid_out_for_nltk(tmp_path, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [])
    reader = load_wordnet(nltk_data=tmp_path, system_dir=settings.WORDNET_SYSTEM_DIR)
    assert reader.get_version() == "3.0"
    assert (tmp_path / "corpora" / "wordnet" / "lexnames").read_text().count("\n") == 45
    assert not (tmp_path / "corpora" / "wordnet" / "data.noun").is_symlink()
    assert reader.synset_from_pos_and_offset("n", 2084071).lexname() == "noun.animal"


def test_hierarchy_build_handles_multiple_parents_and_shortest_distance():
    synsets = [
        NounSynset("n00000001", ["root"], "", "noun.Tops"),
        NounSynset("n00000002", ["a"], "", "noun.Tops", hypernyms=["n00000001"]),
        NounSynset("n00000003", ["b"], "", "noun.Tops", hypernyms=["n00000002"]),
        NounSynset(
            "n00000004", ["c"], "", "noun.Tops",
            hypernyms=["n00000003"], instance_hypernyms=["n00000001"],
        ),
    ]  # fmt: skip
    hierarchy = hierarchy_build(synsets)
    assert hierarchy.closure[("n00000001", "n00000004")] == 1
    assert hierarchy.depth["n00000004"] == 1
    assert hierarchy.max_depth["n00000004"] == 3
    assert hierarchy.subtree_size["n00000001"] == 4
    assert hierarchy.edges[("n00000001", "n00000004")] == "instance_hypernym"


def test_omw_reader_skips_other_parts_of_speech(tmp_path):
    folder = tmp_path / "xyz"
    folder.mkdir()
    (folder / "wn-data-xyz.tab").write_text(
        "# header\n02084071-n\txyz:lemma\thund_dyr\n02084071-v\txyz:lemma\tverb\n"
        "bad line\n02084071-n\txyz:def\tnot a lemma\n",
        encoding="utf-8",
    )
    assert read_omw_lemmas(tmp_path) == {"xyz": {"n02084071": ["hund dyr"]}}


# --- the PostgreSQL path: COPY, closure in SQL, set-based differences -----------------------


def _tables() -> dict[str, set]:
    return {
        "synsets": set(
            Synset.objects.values_list(
                "wnid", "gloss", "lexname", "depth", "max_depth", "subtree_size"
            )
        ),
        "edges": set(SynsetEdge.objects.values_list("parent_id", "child_id", "kind")),
        "closure": set(
            SynsetClosure.objects.values_list("ancestor_id", "descendant_id", "distance")
        ),
        "lemmas": set(
            SynsetLemma.objects.values_list(
                "synset_id", "language", "lemma", "lemma_folded", "position"
            )
        ),
    }


TRICKY = [
    # A diamond with unequal sides, an instance edge, a second root and a deep chain.
    NounSynset("n00000001", ["root"], "the root", "noun.Tops"),
    NounSynset("n00000002", ["a"], "", "noun.Tops", hypernyms=["n00000001"]),
    NounSynset("n00000003", ["b"], "", "noun.Tops", hypernyms=["n00000002"]),
    NounSynset("n00000005", ["d"], "", "noun.Tops", hypernyms=["n00000003"]),
    NounSynset(
        "n00000004", ["c", "C c"], "gloss", "noun.Tops",
        hypernyms=["n00000005"], instance_hypernyms=["n00000001", "n00000002"],
    ),
    NounSynset("n00000006", ["e"], "", "noun.Tops", hypernyms=["n00000004", "n00000099"]),
    NounSynset("n00000010", ["other root"], "", "noun.Tops"),
    NounSynset("n00000011", ["x"], "", "noun.Tops", hypernyms=["n00000010", "n00000006"]),
]  # fmt: skip


@pytest.fixture
def empty_synset_tables(db):
    """The hand-made hierarchy above goes into empty synset tables, emptied inside the test's
    transaction (TRUNCATE is transactional in PostgreSQL: the session's WordNet is back after
    the test), so the import does not first spend most of its time deleting 82,115 synsets."""
    tables = [m._meta.db_table for m in (Synset, SynsetEdge, SynsetClosure, SynsetLemma)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def test_sql_and_python_paths_write_the_same_tables(empty_synset_tables):
    from synsets.importer import _import_postgresql, _import_python

    translations = {"ita": {"n00000004": ["ci", "C c"]}}
    python = _import_python(TRICKY, translations, lambda _: None)
    by_python = _tables()
    again = _import_postgresql(TRICKY, lambda: translations, lambda _: None)
    assert not again.changed, again.line()  # the SQL path agrees with every Python row
    assert _tables() == by_python
    closure = {(a, d): n for a, d, n in by_python["closure"]}
    assert closure[("n00000001", "n00000004")] == 1  # instance edge is the shortest path
    assert closure[("n00000002", "n00000006")] == 2
    assert closure[("n00000001", "n00000011")] == 3
    assert ("n00000010", "n00000004") not in closure
    assert python.closure.total == len(closure)


def test_sql_import_repairs_every_kind_of_damage(empty_synset_tables):
    from synsets.importer import _import_postgresql

    _import_postgresql(TRICKY, dict, lambda _: None)
    expected = _tables()
    SynsetEdge.objects.filter(child_id="n00000004").update(kind="hypernym")
    SynsetEdge.objects.filter(child_id="n00000006").delete()
    SynsetEdge.objects.create(parent_id="n00000010", child_id="n00000002", kind="hypernym")
    SynsetClosure.objects.filter(descendant_id="n00000011").update(distance=9)
    SynsetClosure.objects.filter(ancestor_id="n00000001", descendant_id="n00000005").delete()
    SynsetLemma.objects.filter(synset_id="n00000004").update(position=7)
    Synset.objects.filter(wnid="n00000003").update(subtree_size=1, gloss="vandalised")

    summary = _import_postgresql(TRICKY, dict, lambda _: None)

    assert _tables() == expected
    # One edge re-created, two kinds restored, the stray edge deleted.
    assert (summary.edges.created, summary.edges.updated, summary.edges.deleted) == (1, 2, 1)
    assert summary.closure.created >= 1 and summary.closure.updated >= 1
    assert summary.synsets.updated == 1 and summary.lemmas.updated == 2
    assert not _import_postgresql(TRICKY, dict, lambda _: None).changed


def test_sql_closure_of_wordnet_equals_the_python_closure(wordnet, shared_data):
    """The closure, depths and subtree sizes the import computed in SQL, against the same
    computed pair by pair in Python from the same file."""
    from synsets.wordnet import locate_wordnet, read_noun_synsets

    root = locate_wordnet(nltk_data=settings.NLTK_DATA, system_dir=settings.WORDNET_SYSTEM_DIR)
    hierarchy = hierarchy_build(read_noun_synsets(root))
    stored = dict(
        ((a, d), n)
        for a, d, n in SynsetClosure.objects.values_list(
            "ancestor_id", "descendant_id", "distance"
        ).iterator(50_000)
    )
    assert len(stored) == 825_356
    assert stored == hierarchy.closure
    rows = Synset.objects.values_list("wnid", "depth", "max_depth", "subtree_size")
    for wnid, depth, max_depth, size in rows.iterator(20_000):
        assert (depth, max_depth, size) == (
            hierarchy.depth[wnid],
            hierarchy.max_depth[wnid],
            hierarchy.subtree_size[wnid],
        ), wnid


def test_reader_gives_what_nltk_gives(wordnet):
    """Our data.noun reader against nltk's own reader, on every noun synset."""
    from synsets.wordnet import iter_noun_synsets, locate_wordnet, read_noun_synsets

    root = locate_wordnet(nltk_data=settings.NLTK_DATA, system_dir=settings.WORDNET_SYSTEM_DIR)
    ours = read_noun_synsets(root)
    reader = load_wordnet(nltk_data=settings.NLTK_DATA, system_dir=settings.WORDNET_SYSTEM_DIR)
    theirs = list(iter_noun_synsets(reader))
    assert len(ours) == len(theirs) == 82_115

    def key(s: NounSynset) -> tuple:
        return (s.wnid, s.lemmas, s.gloss, s.lexname, sorted(s.hypernyms),
                sorted(s.instance_hypernyms))  # fmt: skip

    assert [key(s) for s in ours] == [key(s) for s in theirs]
