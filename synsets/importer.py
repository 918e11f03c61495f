"""Import the WordNet 3.0 noun hierarchy (synsets, IS-A edges, closure, multilingual lemmas).

WordNet's ``data.noun`` is read directly (``read_noun_synsets``), then only the difference between
WordNet and the tables is written, so a second run changes nothing (idempotent). Each finished
import records a fingerprint of the files it read and the tables' row counts; a re-run over the
same files while the tables still hold those rows stops there (``force`` compares every row).

On PostgreSQL the rows are bulk-loaded with COPY into temporary tables, the closure is computed
there by a recursive query, and each table is brought in line by three set-based statements
(update what differs, delete what is gone, insert what is new). Elsewhere (the SQLite database of
the zero-config run) the closure is computed in Python and written with ``bulk_create``.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import connection, models, transaction

from .models import Synset, SynsetClosure, SynsetEdge, SynsetLemma, WordNetImport
from .wordnet import NounSynset, locate_wordnet, omw_files, read_noun_synsets, read_omw_lemmas

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
    unchanged_since: datetime | None = None  # set when the files matched the last import

    @property
    def changed(self) -> bool:
        return any(t.changed for t in (self.synsets, self.edges, self.closure, self.lemmas))

    def line(self) -> str:
        if self.unchanged_since is not None:
            return (
                f"WordNet 3.0 import: the same files as the import of "
                f"{self.unchanged_since:%Y-%m-%d %H:%M} UTC, and the tables still hold its "
                f"{self.synsets.total} synsets, {self.edges.total} IS-A edges, "
                f"{self.closure.total} closure pairs and {self.lemmas.total} lemmas: nothing "
                f"to do in {self.seconds:.1f} s (--force compares every row)"
            )
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


@dataclass
class Topology:
    """Edges, depths and parents of the noun hierarchy: cheap, computed in Python everywhere."""

    synsets: dict[str, NounSynset]
    edges: dict[tuple[str, str], str]  # (parent, child) -> kind
    parents: dict[str, list[str]]
    order: list[str]  # topological: every parent before its children
    depth: dict[str, int]
    max_depth: dict[str, int]


def topology_build(synsets: Iterable[NounSynset]) -> Topology:
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
    order: list[str] = []
    depth: dict[str, int] = {}
    max_depth: dict[str, int] = {}
    while queue:
        wnid = queue.popleft()
        order.append(wnid)
        depth[wnid] = min((depth[p] + 1 for p in parents[wnid]), default=0)
        max_depth[wnid] = max((max_depth[p] + 1 for p in parents[wnid]), default=0)
        for child in children[wnid]:
            pending[child] -= 1
            if pending[child] == 0:
                queue.append(child)
    if len(order) != len(by_wnid):
        raise ValueError("WordNet's IS-A graph has a cycle; refusing to import.")
    return Topology(by_wnid, edges, parents, order, depth, max_depth)


def hierarchy_build(synsets: Iterable[NounSynset]) -> Hierarchy:
    """Compute edges, the closure (with shortest distances), depths and subtree sizes."""
    topology = topology_build(synsets)
    ancestors: dict[str, dict[str, int]] = {}
    for wnid in topology.order:
        mine = {wnid: 0}
        for parent in topology.parents[wnid]:
            for ancestor, distance in ancestors[parent].items():
                if distance + 1 < mine.get(ancestor, 1 << 30):
                    mine[ancestor] = distance + 1
        ancestors[wnid] = mine

    closure: dict[tuple[str, str], int] = {}
    subtree_size = dict.fromkeys(topology.synsets, 0)
    for descendant, mine in ancestors.items():
        for ancestor, distance in mine.items():
            closure[(ancestor, descendant)] = distance
            subtree_size[ancestor] += 1
    return Hierarchy(
        topology.synsets, topology.edges, closure, topology.depth, topology.max_depth, subtree_size
    )


def _bulk_insert(model: type[models.Model], columns: Sequence[str], rows: list[tuple]) -> None:
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
    _bulk_insert(model, [*key_columns, *value_columns], new_rows + updated_rows)
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
    synsets: dict[str, NounSynset], translations: dict[str, dict[str, list[str]]]
) -> dict[tuple, tuple]:
    rows: dict[tuple, tuple] = {}
    languages = {"eng": {w: s.lemmas for w, s in synsets.items()}, **translations}
    for language, by_wnid in languages.items():
        for wnid, lemmas in by_wnid.items():
            if wnid not in synsets:
                continue
            for position, lemma in enumerate(lemmas):
                lemma = lemma[:255]
                rows.setdefault((wnid, language, lemma), (lemma.casefold(), position))
    return rows


# Part of the fingerprint: change it when the same files would be written differently.
IMPORT_FORMAT = "synsetlab-wordnet-import 1"


def source_fingerprint(root, omw_dir: Path | None) -> str:
    """SHA-256 over what an import reads: WordNet's noun data and lexicographer names, and the
    OMW tab files (by name and content), with the import's format."""
    digest = hashlib.sha256(IMPORT_FORMAT.encode())
    for name in ("data.noun", "lexnames"):
        try:
            with root.join(name).open() as stream:
                digest.update(f"\n{name}\n".encode())
                while chunk := stream.read(1 << 20):
                    digest.update(chunk if isinstance(chunk, bytes) else chunk.encode())
        except (OSError, KeyError):
            digest.update(f"\n{name} missing\n".encode())
    for tab in omw_files(omw_dir) if omw_dir else []:
        digest.update(f"\n{tab.parent.name}/{tab.name}\n".encode())
        with tab.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _table_counts() -> dict[str, int]:
    return {
        "synsets": Synset.objects.count(),
        "edges": SynsetEdge.objects.count(),
        "closure": SynsetClosure.objects.count(),
        "lemmas": SynsetLemma.objects.count(),
    }


@contextmanager
def _collector_paused():
    """No cyclic garbage collection while the import builds its millions of rows (tuples,
    strings, dicts — no reference cycles): each full collection walks every object the process
    holds, which cost seconds per import. Collected once at the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@transaction.atomic
def wordnet_import(
    *,
    nltk_data: Path,
    system_dir: Path,
    omw_dir: Path | None,
    progress: Progress = lambda _: None,
    force: bool = False,
) -> ImportSummary:
    """Import (or re-sync) all WordNet 3.0 noun synsets; returns what changed.

    When the files are those of the last finished import and the tables still hold the rows it
    left, nothing is read or compared; ``force`` compares every row (and repairs hand edits
    that kept the row counts)."""
    started = time.monotonic()
    root = locate_wordnet(nltk_data=nltk_data, system_dir=system_dir)
    fingerprint = source_fingerprint(root, omw_dir)
    last = WordNetImport.objects.first()
    if not force and last is not None and last.fingerprint == fingerprint:
        counts = _table_counts()
        if counts == last.counts():
            summary = ImportSummary(
                synsets=TableChange(total=counts["synsets"]),
                edges=TableChange(total=counts["edges"]),
                closure=TableChange(total=counts["closure"]),
                lemmas=TableChange(total=counts["lemmas"]),
                unchanged_since=last.finished_at,
            )
            summary.seconds = time.monotonic() - started
            return summary
    progress("reading WordNet noun synsets")
    with _collector_paused():
        synsets = read_noun_synsets(root)
        if connection.vendor == "postgresql":
            summary = _import_postgresql(
                synsets, lambda: read_omw_lemmas(omw_dir) if omw_dir else {}, progress
            )
        else:
            translations = read_omw_lemmas(omw_dir) if omw_dir else {}
            summary = _import_python(synsets, translations, progress)
    WordNetImport.objects.all().delete()
    WordNetImport.objects.create(fingerprint=fingerprint, **_table_counts())
    summary.seconds = time.monotonic() - started
    return summary


def _import_python(
    synsets: list[NounSynset], translations: dict[str, dict[str, list[str]]], progress: Progress
) -> ImportSummary:
    hierarchy = hierarchy_build(synsets)
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
    lemma_rows = _lemma_rows(hierarchy.synsets, translations)
    progress(f"writing {len(lemma_rows)} lemmas")
    summary.lemmas = _sync(
        SynsetLemma, ["synset_id", "language", "lemma"], ["lemma_folded", "position"], lemma_rows
    )
    _count_languages(summary, lemma_rows)
    return summary


def _count_languages(summary: ImportSummary, lemma_rows: dict[tuple, tuple]) -> None:
    for _, language, _ in lemma_rows:
        summary.lemmas_per_language[language] = summary.lemmas_per_language.get(language, 0) + 1


# --- PostgreSQL: COPY into temporary tables, closure and differences in SQL ------------------


def _csv(rows: Iterable[Sequence]) -> io.StringIO:
    buffer = io.StringIO()
    # Every field quoted: in COPY's CSV an unquoted empty field is NULL, a quoted one is ''.
    csv.writer(buffer, quoting=csv.QUOTE_ALL).writerows(rows)
    buffer.seek(0)
    return buffer


def _copy(cursor, table: str, columns: Sequence[str], buffer: io.StringIO) -> None:
    cursor.cursor.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
    )


def _lemmas_prepare(
    synsets: dict[str, NounSynset], read_translations: Callable[[], dict[str, dict[str, list[str]]]]
) -> tuple[io.StringIO, dict[tuple, tuple]]:
    """The lemma rows of every language and their CSV for COPY."""
    lemma_rows = _lemma_rows(synsets, read_translations())
    return _csv(key + values for key, values in lemma_rows.items()), lemma_rows


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _apply(
    cursor,
    *,
    target: str,
    work: str,
    keys: Sequence[tuple[str, str]],
    values: Sequence[tuple[str, str]],
    delete: bool = True,
    stamps: bool = False,
) -> TableChange:
    """Make ``target`` equal ``work`` (pairs are (target column, work expression)): update the
    rows whose values differ, delete the rows gone from ``work``, insert the new ones."""
    match = " AND ".join(f"t.{t} = w.{w}" for t, w in keys)
    change = TableChange()
    cursor.execute(f"SELECT count(*) FROM {work} w")  # noqa: S608 - our own identifiers
    change.total = cursor.fetchone()[0]
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {target})")  # noqa: S608
    if not cursor.fetchone()[0] and change.total >= BULK_LOAD_ROWS and not stamps:
        change.created = _bulk_load(cursor, target=target, work=work, pairs=[*keys, *values])
        return change
    # One pass finds whether anything differs at all (the usual re-run): then nothing is written.
    new_row, stale_row = f"t.{keys[0][0]} IS NULL", f"w.{keys[0][1]} IS NULL"
    value_differs = " OR ".join(f"t.{t} IS DISTINCT FROM w.{w}" for t, w in values)
    if delete:
        differs = f"{new_row} OR {stale_row} OR {value_differs}"
    else:  # rows only in the table are kept, so they are no difference
        differs = f"NOT ({stale_row}) AND ({new_row} OR {value_differs})"
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {target} t FULL JOIN {work} w ON {match} "  # noqa: S608
        f"WHERE {differs})"
    )
    if not cursor.fetchone()[0]:
        return change
    set_list = ", ".join(f"{t} = w.{w}" for t, w in values)
    if stamps:
        set_list += ", updated_at = now()"
    differs = " OR ".join(f"t.{t} IS DISTINCT FROM w.{w}" for t, w in values)
    cursor.execute(
        f"UPDATE {target} t SET {set_list} FROM {work} w WHERE {match} AND ({differs})"  # noqa: S608
    )
    change.updated = cursor.rowcount
    if delete:
        cursor.execute(
            f"DELETE FROM {target} t WHERE NOT EXISTS (SELECT 1 FROM {work} w WHERE {match})"  # noqa: S608
        )
        change.deleted = cursor.rowcount
    columns = [t for t, _ in (*keys, *values)]
    expressions = [f"w.{w}" for _, w in (*keys, *values)]
    if stamps:
        columns += ["created_at", "updated_at"]
        expressions += ["now()", "now()"]
    cursor.execute(
        f"INSERT INTO {target} ({', '.join(columns)}) SELECT {', '.join(expressions)} "  # noqa: S608
        f"FROM {work} w WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})"
    )
    change.created = cursor.rowcount
    return change


BULK_LOAD_ROWS = 50_000


def _bulk_load(cursor, *, target: str, work: str, pairs: Sequence[tuple[str, str]]) -> int:
    """Fill an empty table as PostgreSQL's manual advises for bulk loads: without its secondary
    indexes and constraints, which are rebuilt once at the end (a sort per index and one
    anti-join per foreign key, instead of an index insertion and two key lookups per row)."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY contype",
        [target],
    )
    constraints = cursor.fetchall()  # foreign keys first ('f' < 'u')
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass"
        " AND NOT i.indisprimary AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        [target],
    )
    indexes = cursor.fetchall()
    for name, _, _ in constraints:
        cursor.execute(f"ALTER TABLE {target} DROP CONSTRAINT {connection.ops.quote_name(name)}")
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    columns = ", ".join(t for t, _ in pairs)
    expressions = ", ".join(f"w.{w}" for _, w in pairs)
    cursor.execute(f"INSERT INTO {target} ({columns}) SELECT {expressions} FROM {work} w")  # noqa: S608
    created = cursor.rowcount
    for _, definition in indexes:
        cursor.execute(definition)
    for name, definition, _ in reversed(constraints):  # unique constraints, then foreign keys
        cursor.execute(
            f"ALTER TABLE {target} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
        )
    return created


def _import_postgresql(
    synsets: list[NounSynset],
    read_translations: Callable[[], dict[str, dict[str, list[str]]]],
    progress: Progress,
) -> ImportSummary:
    """``read_translations`` reads the other languages' lemmas ({language: {wnid: lemmas}})."""
    topology = topology_build(synsets)
    summary = ImportSummary()
    # The other languages' lemmas are read and turned into CSV on a second thread while
    # PostgreSQL computes the closure and writes the synsets, edges and closure (the driver
    # releases the interpreter while a statement runs): two cores, both busy.
    with ThreadPoolExecutor(max_workers=1) as pool, connection.cursor() as cursor:
        lemmas_ready = pool.submit(_lemmas_prepare, topology.synsets, read_translations)
        # Hash joins over integer offsets; the optimiser's guess for a recursive query's working
        # table otherwise picks sorts, and JIT compilation costs more than it saves here.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        progress(f"loading {len(synsets)} synsets and {len(topology.edges)} edges with COPY")
        cursor.execute("DROP TABLE IF EXISTS pg_temp.wn_synset")
        cursor.execute(
            "CREATE TEMP TABLE wn_synset (id integer PRIMARY KEY, wnid varchar(9), lemmas jsonb,"
            " gloss text, lexname varchar(32), depth integer, max_depth integer"
            ") ON COMMIT DROP"
        )
        synset_rows = (
            (int(w[1:]), w, json.dumps(s.lemmas, ensure_ascii=False), s.gloss, s.lexname,
             topology.depth[w], topology.max_depth[w])
            for w, s in topology.synsets.items()
        )  # fmt: skip
        columns = ["id", "wnid", "lemmas", "gloss", "lexname", "depth", "max_depth"]
        _copy(cursor, "wn_synset", columns, _csv(synset_rows))
        cursor.execute("DROP TABLE IF EXISTS pg_temp.wn_edge")
        cursor.execute(
            "CREATE TEMP TABLE wn_edge (parent integer, child integer, parent_wnid varchar(9),"
            " child_wnid varchar(9), kind varchar(20)) ON COMMIT DROP"
        )
        edge_rows = (
            (int(p[1:]), int(c[1:]), p, c, kind) for (p, c), kind in topology.edges.items()
        )
        columns = ["parent", "child", "parent_wnid", "child_wnid", "kind"]
        _copy(cursor, "wn_edge", columns, _csv(edge_rows))
        progress("computing the IS-A closure")
        # Every IS-A path from each synset downwards (920,003 paths for 825,356 pairs in WordNet
        # 3.0: multiple inheritance is rare), keeping the shortest distance per pair.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.wn_closure")
        cursor.execute(
            "CREATE TEMP TABLE wn_closure ON COMMIT DROP AS "
            "WITH RECURSIVE walk(ancestor, descendant, distance) AS ("
            "  SELECT id, id, 0 FROM wn_synset"
            "  UNION ALL"
            "  SELECT walk.ancestor, e.child, walk.distance + 1"
            "  FROM walk JOIN wn_edge e ON e.parent = walk.descendant"
            ") SELECT ancestor, descendant, min(distance) AS distance,"
            "  'n' || lpad(ancestor::text, 8, '0') AS ancestor_wnid,"
            "  'n' || lpad(descendant::text, 8, '0') AS descendant_wnid"
            " FROM walk GROUP BY ancestor, descendant"
        )
        # Subtree sizes joined in where the synsets are written (an UPDATE of the work table
        # rewrote all 82,115 of its rows).
        cursor.execute("DROP TABLE IF EXISTS pg_temp.wn_subtree")
        cursor.execute(
            "CREATE TEMP TABLE wn_subtree ON COMMIT DROP AS"
            " SELECT ancestor AS id, count(*)::integer AS n FROM wn_closure GROUP BY ancestor"
        )
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_table(Synset)})")  # noqa: S608
        compare = cursor.fetchone()[0]
        if compare:
            # Statistics for the comparisons with the stored rows (an empty database is
            # filled without comparing anything).
            for work in ("wn_synset", "wn_subtree", "wn_edge", "wn_closure"):
                cursor.execute(f"ANALYZE {work}")
        synset_work = (
            "(SELECT s.*, t.n AS subtree_size FROM wn_synset s JOIN wn_subtree t ON t.id = s.id)"
        )

        progress("writing the differences")
        # Synsets that vanished from WordNet are kept: candidates and votes may point at them.
        summary.synsets = _apply(
            cursor, target=_table(Synset), work=synset_work, keys=[("wnid", "wnid")],
            values=[(c, c) for c in ("lemmas", "gloss", "lexname", "depth", "max_depth",
                                     "subtree_size")],
            delete=False, stamps=True,
        )  # fmt: skip
        summary.edges = _apply(
            cursor, target=_table(SynsetEdge), work="wn_edge",
            keys=[("parent_id", "parent_wnid"), ("child_id", "child_wnid")],
            values=[("kind", "kind")],
        )  # fmt: skip
        summary.closure = _apply(
            cursor, target=_table(SynsetClosure), work="wn_closure",
            keys=[("ancestor_id", "ancestor_wnid"), ("descendant_id", "descendant_wnid")],
            values=[("distance", "distance")],
        )  # fmt: skip
        lemma_csv, lemma_rows = lemmas_ready.result()
        progress(f"loading {len(lemma_rows)} lemmas with COPY")
        cursor.execute("DROP TABLE IF EXISTS pg_temp.wn_lemma")
        cursor.execute(
            "CREATE TEMP TABLE wn_lemma (synset_id varchar(9), language varchar(8),"
            " lemma varchar(255), lemma_folded varchar(255), position integer) ON COMMIT DROP"
        )
        _copy(cursor, "wn_lemma", ["synset_id", "language", "lemma", "lemma_folded", "position"],
              lemma_csv)  # fmt: skip
        if compare:
            cursor.execute("ANALYZE wn_lemma")
        summary.lemmas = _apply(
            cursor, target=_table(SynsetLemma), work="wn_lemma",
            keys=[("synset_id", "synset_id"), ("language", "language"), ("lemma", "lemma")],
            values=[("lemma_folded", "lemma_folded"), ("position", "position")],
        )  # fmt: skip
        if summary.changed:
            for model in (Synset, SynsetEdge, SynsetClosure, SynsetLemma):
                cursor.execute(f"ANALYZE {_table(model)}")
    _count_languages(summary, lemma_rows)
    return summary
