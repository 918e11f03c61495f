"""Next-HIT latency against project size: 10 k, 1 M and 10 M images (issue 16 item 1).

Usage: .venv/bin/python benchmarks/scheduler_scale.py [--sizes 10k,1M,10M] [--hits 200]

For each size a scratch PostgreSQL database is migrated and filled in SQL (generate_series, no
ORM): synsets of 1,008 or 10,008 images each (20 gold per synset), a third of every synset
decided on 3 votes, 5 % pending with one vote, the rest untouched, and 1,000 workers whose
assignments, assignment items and votes hold about one vote per image, so a worker's history
grows with the project (about 9,500 votes each at 10 M). Candidate rows are not generated: the
scheduler never reads them, so the item → candidate foreign key is dropped in the scratch
database (this saves 8 GB at 10 M).

Then one client (this process, through Django's test client: middleware, session, the API view
and its JSON) plays 40 of these workers in turn the way the grid page does: prefetch the next
HIT while one is on screen (``exclude``), submit the one on screen, repeat. Measured: the
prefetching next-HIT request and the submission. Baseline, interleaved with it in the same
run: the same endpoint answering with the worker's live HIT (session, permissions, profile
lock and the HIT's payload, no leasing) — the floor of a next-HIT request. It also prints the
queries of one next-HIT request and the EXPLAIN ANALYZE of the scheduler's two statements, and
what the slowest next-HIT requests were made of: wall time, the client thread's CPU, time in the
database (an execute wrapper around every statement) and in the cyclic garbage collector, with
the medians of the same beside them — a tail that is the same work done slower (a shared
machine) reads differently from one that is a different statement or a collection.
Target: next-HIT p99 < 30 ms at 10 M images.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import (  # noqa: E402
    LOAD_TABLES,
    ROOT,
    bulk_load,
    header,
    scratch_database,
    watched,
)

SIZES = {
    "tiny": (2, 240),  # smoke tests
    "10k": (10, 1008),
    "100k": (10, 10008),
    "1M": (100, 10008),
    "10M": (1000, 10008),
}
WORKERS = 1000
CLIENT_WORKERS = 40
GOLD_PER_SYNSET = 20
TARGET_P99_MS = 30.0


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def generate(synsets: int, per_synset: int, *, workers: int = WORKERS) -> dict:
    """Fill the migrated scratch database; returns the project and worker ids."""
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from labeling.models import Project, ProjectSynset
    from labeling.roles import ANNOTATORS_GROUP
    from synsets.models import Synset, SynsetClosure

    started = time.perf_counter()
    made = Synset.objects.bulk_create(
        [Synset(wnid=f"n{96_000_000 + i:08d}", lemmas=[f"scale thing {i}"], gloss="benchmark",
                depth=8) for i in range(synsets)]
    )  # fmt: skip
    SynsetClosure.objects.bulk_create(
        [SynsetClosure(ancestor=s, descendant=s, distance=0) for s in made]
    )
    project = Project.objects.create(
        name="scale", slug="scale", images_per_hit=24, gold_per_hit=2, min_votes=3,
        seed_size=0, target_per_synset=100_000, gold_block_below=0.0,
    )  # fmt: skip
    if hasattr(project, "open_to_all_annotators"):
        Project.objects.filter(pk=project.pk).update(open_to_all_annotators=True)
    ProjectSynset.objects.bulk_create([ProjectSynset(project=project, synset=s) for s in made])
    users = User.objects.bulk_create(
        [User(username=f"scale-{i:05d}", password="!") for i in range(workers)]
    )
    group, _ = Group.objects.get_or_create(name=ANNOTATORS_GROUP)
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=u.pk, group_id=group.pk) for u in users]
    )
    worker_ids = [u.pk for u in users]
    n = synsets * per_synset
    decided, partial = int(per_synset * 0.30), int(per_synset * 0.35)
    params = {
        "project": project.pk, "wnids": [s.wnid for s in made], "per": per_synset, "n": n,
        "gold": GOLD_PER_SYNSET, "decided": decided, "partial": partial,
        "workers": worker_ids, "nw": len(worker_ids),
    }  # fmt: skip
    with connection.cursor() as cursor, bulk_load(cursor):
        # Image g is image j = g % per of synset g / per; voted images come in blocks of 24
        # (one assignment per block and vote round, rounds by different workers).
        cursor.execute(
            """
            INSERT INTO labeling_item (created_at, updated_at, project_id, synset_id,
                candidate_id, is_seed, is_gold, gold_label, state, votes_needed, active_leases,
                yes_votes, no_votes, posterior)
            SELECT now(), now(), %(project)s, (%(wnids)s::text[])[g / %(per)s + 1], g + 1,
                   false, j < %(gold)s, CASE WHEN j < %(gold)s THEN j %% 2 = 0 END,
                   CASE WHEN j < %(gold)s THEN CASE WHEN j %% 2 = 0 THEN 'accepted'
                                                    ELSE 'rejected' END
                        WHEN j < %(decided)s THEN CASE WHEN g %% 5 IN (0, 3, 4) THEN 'rejected'
                                                       ELSE 'accepted' END
                        ELSE 'pending' END,
                   CASE WHEN j < %(decided)s THEN 0 WHEN j < %(partial)s THEN 2 ELSE 3 END,
                   0,
                   CASE WHEN j < %(gold)s THEN 0
                        WHEN j < %(decided)s THEN 3 - (g %% 5 IN (0, 3, 4))::int
                        WHEN j < %(partial)s THEN (g %% 5 <> 0)::int ELSE 0 END,
                   CASE WHEN j < %(gold)s THEN 0
                        WHEN j < %(decided)s THEN (g %% 5 IN (0, 3, 4))::int
                        WHEN j < %(partial)s THEN (g %% 5 = 0)::int ELSE 0 END,
                   NULL
              FROM generate_series(0, %(n)s - 1) AS g, LATERAL (SELECT g %% %(per)s AS j) AS l
            """,
            params,
        )
        cursor.execute("SELECT min(id) FROM labeling_item")
        params["first_item"] = cursor.fetchone()[0]
        cursor.execute(
            """
            CREATE TEMP TABLE gen_vote AS
            SELECT g, r, g / 24 AS block,
                   (%(workers)s::int[])[((g / 24) * 7 + r * 13) %% %(nw)s + 1] AS worker,
                   (g + r) %% 5 <> 0 AS label
              FROM generate_series(0, %(n)s - 1) AS g,
                   LATERAL (SELECT g %% %(per)s AS j) AS l,
                   generate_series(0, 2) AS r
             WHERE j >= %(gold)s AND j < %(partial)s AND (r = 0 OR j < %(decided)s)
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO labeling_assignment (id, created_at, updated_at, project_id, worker_id,
                synset_id, status, lease_expires_at, submitted_at, duration_ms, reward_cents)
            SELECT block * 3 + r + 1, now(), now(), %(project)s, worker,
                   (%(wnids)s::text[])[min(g) / %(per)s + 1], 'submitted', now(), now(), 30000, 5
              FROM gen_vote GROUP BY block, r, worker
            """,
            params,
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('labeling_assignment', 'id'), "
            "(SELECT max(id) FROM labeling_assignment))"
        )
        cursor.execute(
            """
            INSERT INTO labeling_assignmentitem (assignment_id, item_id, worker_id, position,
                is_gold)
            SELECT block * 3 + r + 1, %(first_item)s + g, worker, g %% 24, false FROM gen_vote
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO labeling_vote (item_id, worker_id, assignment_id, label, status,
                created_at)
            SELECT %(first_item)s + g, worker, block * 3 + r + 1, label, 'confirmed', now()
              FROM gen_vote
            """,
            params,
        )
        cursor.execute("SELECT count(*) FROM gen_vote")
        votes = cursor.fetchone()[0]
        cursor.execute("DROP TABLE gen_vote")
        loaded = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table in LOAD_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(
        f"generated {synsets} synsets × {per_synset:,} = {n:,} images, {votes:,} votes by "
        f"{workers} workers in {loaded:.0f} s (+ indexes and VACUUM ANALYZE: "
        f"{time.perf_counter() - started - loaded:.0f} s)",
        flush=True,
    )
    return {"project": project, "workers": worker_ids}


def row_sizes() -> None:
    """Bytes per row of the tables that grow with the project: heap and indexes apart (after
    VACUUM ANALYZE, so the row counts are PostgreSQL's own; indexes as built in bulk here, which
    packs them tighter than inserts one by one do)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples, pg_relation_size(c.oid), pg_indexes_size(c.oid),"
            " (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid)"
            " FROM pg_class c WHERE c.relname = ANY(%s) ORDER BY c.relname",
            [list(LOAD_TABLES)],
        )
        parts = [
            f"{name.removeprefix('labeling_')} {(heap + indexes) / rows:.0f} B "
            f"({heap / rows:.0f} heap, {indexes / rows:.0f} in {count} indexes)"
            for name, rows, heap, indexes, count in cursor.fetchall()
            if rows > 0
        ]
    print("bytes per row: " + "; ".join(parts), flush=True)


def explain(project, worker_id: int) -> None:
    """EXPLAIN ANALYZE of the scheduler's statements for one worker with history, rolled back."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from labeling.hits import scheduler
    from labeling.models import Item

    worker = User.objects.get(pk=worker_id)
    synsets = scheduler._synsets_needing_work(project=project, worker=worker)
    params = {"project": project.pk, "synset": synsets[0], "pending": Item.State.PENDING,
              "worker": worker.pk, "target": project.target_per_synset,
              "limit": project.images_per_hit}  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        for name, sql in scheduler._statements(connection.vendor).items():
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print(f"EXPLAIN ANALYZE {name} (worker {worker.pk}):")
            print(_indent("\n".join(row[0] for row in cursor.fetchall())))
        transaction.set_rollback(True)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class Parts:
    """Where one request's time went: the database (wall time inside every statement, through
    an execute wrapper; the driver's own CPU is counted there and in the thread's CPU) and the
    cyclic garbage collector (its callbacks), beside the wall and thread CPU clocks."""

    def __init__(self) -> None:
        self.database = self.collector = 0.0
        self._collecting_since = 0.0

    def statement(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.database += time.perf_counter() - started

    def collection(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._collecting_since = time.perf_counter()
        else:
            self.collector += time.perf_counter() - self._collecting_since

    @contextlib.contextmanager
    def watching(self):
        from django.db import connection

        gc.callbacks.append(self.collection)
        try:
            with connection.execute_wrapper(self.statement):
                yield
        finally:
            gc.callbacks.remove(self.collection)

    def timed(self, call):
        """Run ``call()``; returns its result and (wall, CPU, database, collector) in ms."""
        self.database = self.collector = 0.0
        wall, cpu = time.perf_counter(), time.thread_time()
        result = call()
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        return result, tuple(x * 1e3 for x in (wall, cpu, self.database, self.collector))


def tail_report(parts: list[tuple[float, ...]], slowest: int = 5) -> None:
    """The slowest requests' wall, CPU, database and collector times, against the medians."""
    names = ("wall", "CPU", "database", "collector")
    medians = [statistics.median(row[k] for row in parts) for k in range(4)]

    def named(values) -> str:
        return ", ".join(f"{name} {value:.1f}" for name, value in zip(names, values, strict=True))

    print(f"next-HIT, where the time went (ms), medians: {named(medians)}")
    for row in sorted(parts, reverse=True)[:slowest]:
        print(f"    slow request: {named(row)}")


def measure(project, worker_ids: list[int], hits: int, players: int = CLIENT_WORKERS) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from labeling.models import Assignment

    url = f"/api/projects/{project.slug}/hits/next/"
    clients = []
    step = max(1, len(worker_ids) // players)
    for worker_id in worker_ids[::step][:players]:
        client = Client(enforce_csrf_checks=False)
        client.force_login(User.objects.get(pk=worker_id))
        first = client.post(url, {}, content_type="application/json")
        assert first.status_code == 200, (first.status_code, first.content[:200])
        clients.append([client, first.json()])
    nexts, submits, floor, parts = [], [], [], []
    queries = None
    watch = Parts()
    with watch.watching():
        for i in range(hits):
            slot = clients[i % len(clients)]
            client, on_screen = slot
            # Baseline: the same endpoint answering with the live HIT (no leasing).
            started = time.perf_counter()
            again = client.post(url, {}, content_type="application/json")
            floor.append((time.perf_counter() - started) * 1e3)
            assert again.status_code == 200

            def prefetch(client=client, on_screen=on_screen):
                return client.post(url, {"exclude": [on_screen["id"]]},
                                   content_type="application/json")  # fmt: skip

            if queries is None:
                with CaptureQueriesContext(connection) as captured:
                    prefetched, spent = watch.timed(prefetch)
                queries = [q["sql"] for q in captured.captured_queries]
            else:
                prefetched, spent = watch.timed(prefetch)
            nexts.append(spent[0])
            parts.append(spent)
            assert prefetched.status_code == 200, prefetched.status_code
            ids = [item["id"] for item in on_screen["items"]]
            body = {"selected": ids[: len(ids) // 2], "unselected": ids[len(ids) // 2 :],
                    "duration_ms": 40_000}  # fmt: skip
            started = time.perf_counter()
            response = client.post(on_screen["submit_url"], body,
                                   content_type="application/json")  # fmt: skip
            submits.append((time.perf_counter() - started) * 1e3)
            assert response.status_code == 200, (response.status_code, response.content[:300])
            slot[1] = prefetched.json()
    leased = Assignment.objects.filter(status=Assignment.Status.LEASED).count()
    return {"next": nexts, "submit": submits, "floor": floor, "queries": queries,
            "leased": leased, "parts": parts}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10k,1M,10M", help=f"of {', '.join(SIZES)}")
    parser.add_argument("--hits", type=int, default=200, help="measured HITs per size")
    parser.add_argument("--clients", type=int, default=CLIENT_WORKERS, help="workers played")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the measured requests, print top lines"
    )
    args = parser.parse_args()
    header("next-HIT latency against project size (scheduler_scale)")
    rows = []
    for label in args.sizes.split(","):
        synsets, per_synset = SIZES[label]
        with scratch_database(f"sched_{label.lower()}") as url:
            os.environ.update({"DATABASE_URL": url, "CELERY_BROKER_URL": "memory://",
                               "DJANGO_SETTINGS_MODULE": "config.settings",
                               "SECRET_KEY": "benchmark-only-" + "x" * 40, "DEBUG": "0",
                               "ALLOWED_HOSTS": "testserver",
                               "SECURE_SSL_REDIRECT": "0"})  # fmt: skip
            import django

            if not getattr(main, "_setup", False):
                if str(ROOT) not in sys.path:
                    sys.path.insert(0, str(ROOT))
                django.setup()
                # This process plays the web server: start it as config.wsgi starts one.
                from config.startup import warm_up_and_freeze

                warm_up_and_freeze()
                main._setup = True  # type: ignore[attr-defined]
            from django.db import connections

            connections.close_all()
            connections["default"].settings_dict["NAME"] = url.rsplit("/", 1)[1]
            print(f"-- {label}", flush=True)
            data = generate(synsets, per_synset)
            row_sizes()
            explain(data["project"], data["workers"][0])
            profiler = cProfile.Profile() if args.profile else None
            with watched():
                if profiler:
                    profiler.enable()
                result = measure(data["project"], data["workers"], args.hits, args.clients)
                if profiler:
                    profiler.disable()
            if profiler:
                stats = pstats.Stats(profiler).sort_stats("cumulative")
                stats.print_stats(40)
                stats.sort_stats("tottime").print_stats(25)
            connections.close_all()
        n50, n99 = _pct(result["next"], 0.5), _pct(result["next"], 0.99)
        f50, f99 = _pct(result["floor"], 0.5), _pct(result["floor"], 0.99)
        s50, s99 = _pct(result["submit"], 0.5), _pct(result["submit"], 0.99)
        print(f"queries of one prefetching next-HIT request: {len(result['queries'])}")
        for sql in result["queries"]:
            print("    " + " ".join(sql.split())[:160])
        print(
            f"{label}: next-HIT p50 {n50:.1f} p99 {n99:.1f} ms (baseline, live HIT: p50 "
            f"{f50:.1f} p99 {f99:.1f} ms; ratio p50 {n50 / f50:.2f}); submit p50 {s50:.1f} "
            f"p99 {s99:.1f} ms; n = {len(result['next'])}",
            flush=True,
        )
        tail_report(result["parts"])
        rows.append((label, synsets * per_synset, n50, n99, f50, f99, s50, s99))
    print()
    print("| images | next-HIT p50 ms | next-HIT p99 ms | baseline (live HIT) p50 / p99 ms | "
          "submit p50 / p99 ms |")  # fmt: skip
    print("|---|---|---|---|---|")
    for label, n, n50, n99, f50, f99, s50, s99 in rows:
        print(f"| {label} ({n:,}) | {n50:.1f} | {n99:.1f} | {f50:.1f} / {f99:.1f} | "
              f"{s50:.1f} / {s99:.1f} |")  # fmt: skip
    print(
        f"target: next-HIT p99 < {TARGET_P99_MS:.0f} ms at 10 M images; "
        f"median of the per-size p99: {statistics.median(r[3] for r in rows):.1f} ms"
    )


if __name__ == "__main__":
    main()
