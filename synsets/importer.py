"""Import the WordNet 3.0 noun hierarchy (synsets, IS-A edges, closure, multilingual lemmas).

The import computes the complete desired state in memory, then applies only the difference to the
database, so a second run changes nothing (idempotent). Bulk rows go through PostgreSQL's COPY when
available and ``bulk_create`` elsewhere (the SQLite fallback of the zero-config run).
"""

from __future__ import annotations

import csv
import io
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, models, transaction

from .models import Synset, SynsetClosure, SynsetEdge, SynsetLemma
from .wordnet import NounSynset, iter_noun_synsets, load_wordnet, read_omw_lemmas

Progress = Callable[[str], None]


@dataclass
class TableChange:
    total: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def __str__(self) -> str:
        return f"{self.total} (+{self.created} ~{self.updated} -{self.deleted})"


@dataclass
class ImportSummary:
    synsets: TableChange = field(default_factory=TableChange)
    edges: TableChange = field(default_factory=TableChange)
    closure: TableChange = field(default_factory=TableChange)
    lemmas: TableChange = field(default_factory=TableChange)
    lemmas_per_language: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return any(t.changed for t in (self.synsets, self.edges, self.closure, self.lemmas))

    def line(self) -> str:
        languages = ", ".join(f"{k}={v}" for k, v in sorted(self.lemmas_per_language.items()))
        return (
            f"WordNet 3.0 import: synsets {self.synsets}; IS-A edges {self.edges}; "
            f"closure pairs {self.closure}; lemmas {self.lemmas} [{languages}]; "
            f"{'changed' if self.changed else 'nothing changed'} in {self.seconds:.1f} s"
        )


@dataclass
class Hierarchy:
    """The noun hierarchy computed in memory before it is written."""

    synsets: dict[str, NounSynset]
    edges: dict[tuple[str, str], str]  # (parent, child) -> kind
    closure: dict[tuple[str, str], int]  # (ancestor, descendant) -> shortest distance
    depth: dict[str, int]
    max_depth: dict[str, int]
    subtree_size: dict[str, int]


def hierarchy_build(synsets: Iterable[NounSynset]) -> Hierarchy:
    """Compute edges, the closure (with shortest distances), depths and subtree sizes."""
    by_wnid = {s.wnid: s for s in synsets}
    edges: dict[tuple[str, str], str] = {}
    parents: dict[str, list[str]] = {wnid: [] for wnid in by_wnid}
    children: dict[str, list[str]] = {wnid: [] for wnid in by_wnid}
    for s in by_wnid.values():
        for kind, targets in (
            (SynsetEdge.Kind.HYPERNYM, s.hypernyms),
            (SynsetEdge.Kind.INSTANCE_HYPERNYM, s.instance_hypernyms),
        ):
            for parent in targets:
                if parent in by_wnid and (parent, s.wnid) not in edges:
                    edges[(parent, s.wnid)] = kind.value
                    parents[s.wnid].append(parent)
                    children[parent].append(s.wnid)

    # Kahn's topological order: every parent is finished before its children.
    pending = {wnid: len(p) for wnid, p in parents.items()}
    queue = deque(sorted(w for w, n in pending.items() if n == 0))
    ancestors: dict[str, dict[str, int]] = {}
    depth: dict[str, int] = {}
    max_depth: dict[str, int] = {}
    while queue:
        wnid = queue.popleft()
        mine = {wnid: 0}
        for parent in parents[wnid]:
            for ancestor, distance in ancestors[parent].items():
                if distance + 1 < mine.get(ancestor, 1 << 30):
                    mine[ancestor] = distance + 1
        ancestors[wnid] = mine
        depth[wnid] = min((depth[p] + 1 for p in parents[wnid]), default=0)
        max_depth[wnid] = max((max_depth[p] + 1 for p in parents[wnid]), default=0)
        for child in children[wnid]:
            pending[child] -= 1
            if pending[child] == 0:
                queue.append(child)
    if len(ancestors) != len(by_wnid):
        raise ValueError("WordNet's IS-A graph has a cycle; refusing to import.")

    closure: dict[tuple[str, str], int] = {}
    subtree_size = dict.fromkeys(by_wnid, 0)
    for descendant, mine in ancestors.items():
        for ancestor, distance in mine.items():
            closure[(ancestor, descendant)] = distance
            subtree_size[ancestor] += 1
    return Hierarchy(by_wnid, edges, closure, depth, max_depth, subtree_size)


def _copy_insert(model: type[models.Model], columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert rows fast: COPY on PostgreSQL, batched bulk_create elsewhere."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        buffer.seek(0)
        table = connection.ops.quote_name(model._meta.db_table)
        cols = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)", buffer)
        return
    objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    model.objects.bulk_create(objs, batch_size=2000)


def _sync(
    model: type[models.Model],
    key_columns: Sequence[str],
    value_columns: Sequence[str],
    desired: dict[tuple, tuple],
) -> TableChange:
    """Bring a table to ``desired`` ({key: values}) touching only rows that differ."""
    existing: dict[tuple, tuple[int, tuple]] = {}
    n_keys = len(key_columns)
    for row in model.objects.values_list("pk", *key_columns, *value_columns).iterator(10_000):
        existing[tuple(row[1 : 1 + n_keys])] = (row[0], tuple(row[1 + n_keys :]))
    change = TableChange(total=len(desired))
    stale_pks = [pk for key, (pk, _) in existing.items() if key not in desired]
    changed_pks = [
        pk for key, (pk, values) in existing.items() if key in desired and desired[key] != values
    ]
    new_rows = [key + values for key, values in desired.items() if key not in existing]
    # An update is a delete and a re-insert: simpler than per-column bulk updates and just as fast
    # with COPY; the keys (the rows' identity) stay the same.
    updated_rows = [
        key + desired[key]
        for key, (pk, values) in existing.items()
        if key in desired and desired[key] != values
    ]
    for chunk_start in range(0, len(stale_pks) + len(changed_pks), 5000):
        chunk = (stale_pks + changed_pks)[chunk_start : chunk_start + 5000]
        model.objects.filter(pk__in=chunk).delete()
    _copy_insert(model, [*key_columns, *value_columns], new_rows + updated_rows)
    change.created, change.updated, change.deleted = (
        len(new_rows),
        len(updated_rows),
        len(stale_pks),
    )
    return change


def _sync_synsets(hierarchy: Hierarchy) -> TableChange:
    fields = ["lemmas", "gloss", "lexname", "depth", "max_depth", "subtree_size"]
    desired = {
        wnid: (s.lemmas, s.gloss, s.lexname, hierarchy.depth[wnid], hierarchy.max_depth[wnid],
               hierarchy.subtree_size[wnid])
        for wnid, s in hierarchy.synsets.items()
    }  # fmt: skip
    existing = {row[0]: tuple(row[1:]) for row in Synset.objects.values_list("wnid", *fields)}
    to_create = [Synset(wnid=w, **dict(zip(fields, v, strict=True))) for w, v in desired.items()
                 if w not in existing]  # fmt: skip
    to_update = [Synset(wnid=w, **dict(zip(fields, v, strict=True))) for w, v in desired.items()
                 if w in existing and existing[w] != v]  # fmt: skip
    Synset.objects.bulk_create(to_create, batch_size=5000)
    Synset.objects.bulk_update(to_update, fields, batch_size=2000)
    # Synsets that vanished from WordNet are kept: candidates and votes may point at them.
    return TableChange(total=len(desired), created=len(to_create), updated=len(to_update))


def _lemma_rows(
    hierarchy: Hierarchy, translations: dict[str, dict[str, list[str]]]
) -> dict[tuple, tuple]:
    rows: dict[tuple, tuple] = {}
    languages = {"eng": {w: s.lemmas for w, s in hierarchy.synsets.items()}, **translations}
    for language, by_wnid in languages.items():
        for wnid, lemmas in by_wnid.items():
            if wnid not in hierarchy.synsets:
                continue
            for position, lemma in enumerate(lemmas):
                lemma = lemma[:255]
                rows.setdefault((wnid, language, lemma), (lemma.casefold(), position))
    return rows


@transaction.atomic
def wordnet_import(
    *, nltk_data: Path, system_dir: Path, omw_dir: Path | None, progress: Progress = lambda _: None
) -> ImportSummary:
    """Import (or re-sync) all WordNet 3.0 noun synsets; returns what changed."""
    started = time.monotonic()
    reader = load_wordnet(nltk_data=nltk_data, system_dir=system_dir)
    progress("reading WordNet noun synsets")
    hierarchy = hierarchy_build(iter_noun_synsets(reader))
    translations = read_omw_lemmas(omw_dir) if omw_dir else {}
    summary = ImportSummary()
    progress(f"writing {len(hierarchy.synsets)} synsets")
    summary.synsets = _sync_synsets(hierarchy)
    progress(f"writing {len(hierarchy.edges)} IS-A edges")
    summary.edges = _sync(
        SynsetEdge, ["parent_id", "child_id"], ["kind"],
        {key: (kind,) for key, kind in hierarchy.edges.items()},
    )  # fmt: skip
    progress(f"writing {len(hierarchy.closure)} closure pairs")
    summary.closure = _sync(
        SynsetClosure, ["ancestor_id", "descendant_id"], ["distance"],
        {key: (distance,) for key, distance in hierarchy.closure.items()},
    )  # fmt: skip
    lemma_rows = _lemma_rows(hierarchy, translations)
    progress(f"writing {len(lemma_rows)} lemmas")
    summary.lemmas = _sync(
        SynsetLemma, ["synset_id", "language", "lemma"], ["lemma_folded", "position"], lemma_rows
    )
    for _, language, _ in lemma_rows:
        summary.lemmas_per_language[language] = summary.lemmas_per_language.get(language, 0) + 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (Synset, SynsetEdge, SynsetClosure, SynsetLemma):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    summary.seconds = time.monotonic() - started
    return summary
