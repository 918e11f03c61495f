"""One synset's consensus recompute on PostgreSQL (10,000 candidates × 10 votes), for both
consensus methods, in the two cases that matter:

- worst case: every item reset before the recompute, so every row is rewritten;
- typical case: the synset is decided and one new HIT arrives (a new worker's 24 votes), so only
  a few rows change;

against a baseline measured in the same run: a raw read of the synset's votes, a majority per
item and one UPDATE of every item row (the least any full recompute does). Repetitions
alternate the order. Target: worst case ≤ 1.3 × baseline.

Scale points (``--table-votes``): the same measurement is repeated with the vote, item,
assignment and assignment-item tables holding that many *other* votes (another project's
synsets of 10,008 images, 10 votes each from 1,000 workers, one assignment per HIT of 24
images), so the output shows whether a recompute's cost stays flat as the tables grow: it
should depend on its synset's size only. The other rows are generated in SQL (generate_series,
no ORM; foreign keys left unchecked when the role is a superuser) with the secondary indexes
dropped for the load and rebuilt after it, then VACUUM ANALYZE (run before every level, 0
included, so each level is measured on analysed tables). Levels run in ascending order in one
scratch database, each load adding whole HITs to reach its count (the printed count may exceed
it by up to 239 votes). Candidate rows are not generated for them: the recompute never reads
candidates, so the item → candidate foreign key is dropped in the scratch database. The
benchmark synset's rows are written first and stay together on disk, which is kinder than
production, where a synset's votes arrive interleaved with other synsets'. Printed per level:
the generation time and the interleaved figures with their ratios pair by pair; at the end a
table of medians per level and the growth from the smallest level to the largest (≈ 1: flat).

Usage: .venv/bin/python benchmarks/recompute_db.py [--items 10000] [--votes 10] [--repeats 3]
       [--table-votes 0,1M]
Every level repeats the whole measurement (a few minutes at the default size). The default
levels are 0 and 1 M other votes; the full run is ``--table-votes 0,1M,10M``, whose 10 M load
takes several minutes more and grows the scratch database by several GB.
(consensus_recompute.py times the engine alone.)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _bench import (  # noqa: E402
    LOAD_TABLES,
    bulk_load,
    django_setup,
    header,
    interleaved,
    report,
    scratch_database,
    timed,
    watched,
)

HIT_SIZE = 24
OTHER_PER_SYNSET = 10_008  # 417 HITs of 24 images
OTHER_VOTES_PER_ITEM = 10
OTHER_WORKERS = 1000
OTHER_WNID_BASE = 97_000_000
SUFFIXES = {"k": 1_000, "m": 1_000_000}


def vote_levels(text: str) -> list[int]:
    """``"0,1M,10000000"`` → ``[0, 1000000, 10000000]`` (k and M suffixes; sorted, unique)."""
    levels = set()
    for part in text.replace("_", "").split(","):
        part = part.strip().lower()
        scale = SUFFIXES.get(part[-1:], 1)
        levels.add(int(float(part[:-1] if scale > 1 else part) * scale))
    if min(levels) < 0:
        raise argparse.ArgumentTypeError("vote counts cannot be negative")
    return sorted(levels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--votes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--table-votes", type=vote_levels, default=vote_levels("0,1M"), metavar="N,N,…",
        help="other votes in the tables at each scale point (k/M suffixes; default 0,1M; "
             "0,1M,10M is the full run, whose 10 M load takes several minutes)",
    )  # fmt: skip
    args = parser.parse_args()
    levels = ", ".join(f"{n:,}" for n in args.table_votes)
    header(f"consensus recompute on PostgreSQL, {args.items} items × {args.votes} votes "
           f"(other votes in the tables: {levels})")  # fmt: skip
    with scratch_database("recompute") as url:
        django_setup(url)
        run(args)


def run(args: argparse.Namespace) -> None:
    from django.db import connection

    try:
        rng = random.Random(0)
        benches = make_benchmark_synset(args, rng)
        other = {"votes": 0, "blocks": 0, "project": None, "workers": []}
        rows = []
        for level in args.table_votes:
            print(f"== other votes in the tables: {level:,}")
            generation = add_other_votes(other, level)
            for bench in benches:
                print(f"-- {bench['method']} ({other['votes']:,} other votes)")
                medians = measure(bench, args, rng, level)
                rows.append((other["votes"], bench["method"], generation, *medians))
        summarize(rows)
    finally:
        connection.close()


def make_benchmark_synset(args: argparse.Namespace, rng: random.Random) -> list[dict]:
    """The measured synset, once per consensus method (ORM, as the application writes it)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from candidates.models import Candidate
    from labeling.models import Assignment, Item, Project, ProjectSynset, Vote
    from synsets.models import Synset

    synset = Synset.objects.create(wnid="n99000002", lemmas=["bench"])
    candidates = Candidate.objects.bulk_create(
        Candidate(
            synset=synset,
            status="stored",
            source="bench",
            image_url=f"u{i}",
            url_hash=f"{i:064d}",
            sha256=f"{i:064d}",
        )  # fmt: skip
        for i in range(args.items)
    )
    workers = get_user_model().objects.bulk_create(
        get_user_model()(username=f"w{i}") for i in range(args.votes * 3)
    )
    accuracy = {w.pk: rng.choice([0.95, 0.9, 0.8, 0.7, 0.5]) for w in workers}
    benches = []
    for method in (Project.ConsensusMethod.WORKER_EM, Project.ConsensusMethod.IMAGENET_TABLE):
        project = Project.objects.create(
            name=method, slug=method.replace("_", "-"), consensus_method=method,
            seed_size=50, seed_votes=10, max_votes=max(10, args.votes),
        )  # fmt: skip
        project_synset = ProjectSynset.objects.create(project=project, synset=synset)
        items = Item.objects.bulk_create(
            Item(project=project, synset=synset, candidate=c, is_seed=i < 50, votes_needed=1)
            for i, c in enumerate(candidates)
        )
        truth = {item.pk: rng.random() < 0.2 for item in items}
        assignments = {
            w.pk: Assignment.objects.create(
                project=project,
                worker=w,
                synset=synset,
                status="submitted",
                lease_expires_at=timezone.now(),
                submitted_at=timezone.now(),
            )  # fmt: skip
            for w in workers
        }
        votes = []
        for item in items:
            for worker in rng.sample(workers, args.votes):
                right = rng.random() < accuracy[worker.pk]
                votes.append(Vote(item=item, worker=worker, assignment=assignments[worker.pk],
                                  label=truth[item.pk] == right))  # fmt: skip
        Vote.objects.bulk_create(votes, batch_size=10_000)
        benches.append({"method": method, "project": project, "synset": synset,
                        "project_synset": project_synset,
                        "item_ids": [item.pk for item in items]})  # fmt: skip
    return benches


def measure(bench: dict, args: argparse.Namespace, rng: random.Random, level: int) -> tuple:
    """Baseline, worst and typical case interleaved; returns their medians and the median
    ratios (worst / baseline, typical / baseline)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from consensus.recompute import synset_recompute_consensus
    from labeling.models import Assignment, Item, Vote

    method, project, synset = bench["method"], bench["project"], bench["synset"]
    project_synset, item_ids = bench["project_synset"], bench["item_ids"]
    new_workers = iter(
        get_user_model().objects.bulk_create(
            get_user_model()(username=f"{method}-{level}-new-{i}") for i in range(args.repeats)
        )
    )

    def baseline(_rep: int) -> float:
        with timed() as t, connection.cursor() as cursor:
            cursor.execute(
                "SELECT v.item_id, count(*) FILTER (WHERE v.label), count(*)"
                " FROM labeling_vote v JOIN labeling_item i ON i.id = v.item_id"
                " WHERE i.project_id = %s AND i.synset_id = %s GROUP BY v.item_id",
                [project.pk, synset.pk],
            )
            majority = [(pk, yes * 2 > n) for pk, yes, n in cursor.fetchall()]
            cursor.execute(
                "UPDATE labeling_item i SET posterior = CASE WHEN m.yes THEN 0.9"
                " ELSE 0.1 END FROM unnest(%s::bigint[], %s::boolean[]) AS m(id, yes)"
                " WHERE i.id = m.id",
                [[pk for pk, _ in majority], [yes for _, yes in majority]],
            )
        return t.wall

    def worst(_rep: int) -> float:
        Item.objects.filter(project=project).update(state="pending", posterior=None, votes_needed=1)
        with timed() as t:
            summary = synset_recompute_consensus(project_synset_id=project_synset.pk)
        print(f"      worst case: {t.line()}; rows written {summary.changed}")
        return t.wall

    def typical(_rep: int) -> float:
        synset_recompute_consensus(project_synset_id=project_synset.pk)  # decided
        worker = next(new_workers)
        assignment = Assignment.objects.create(
            project=project, worker=worker, synset=synset, status="submitted",
            lease_expires_at=timezone.now(), submitted_at=timezone.now(),
        )  # fmt: skip
        Vote.objects.bulk_create(
            Vote(item_id=pk, worker=worker, assignment=assignment, label=rng.random() < 0.5)
            for pk in rng.sample(item_ids, min(HIT_SIZE, len(item_ids)))
        )
        with timed() as t:
            summary = synset_recompute_consensus(project_synset_id=project_synset.pk)
        print(f"      typical case (one new HIT, {HIT_SIZE} votes): {t.line()}; "
              f"rows written {summary.changed}")  # fmt: skip
        return t.wall

    with watched():
        series = interleaved(
            [("baseline: raw read + majority + UPDATE of every row", baseline),
             ("recompute, worst case (all rows rewritten)", worst),
             ("recompute, typical case (one new HIT)", typical)],
            repeats=args.repeats, unit="s", higher_is_better=False,
        )  # fmt: skip
    worst_ratios = report(series[:2], target="≤ 1.3")
    typical_ratios = report([series[0], series[2]])
    return (*(statistics.median(s.values) for s in series),
            *(statistics.median(r) if r else float("nan")
              for r in (worst_ratios, typical_ratios)))  # fmt: skip


def add_other_votes(other: dict, target: int) -> float:
    """Grow the other project's votes to at least ``target`` (whole HITs of 24 images × 10
    votes), in SQL; then VACUUM ANALYZE the tables (also when nothing is added). Returns the
    seconds taken, indexes and VACUUM included."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labeling.models import Project, ProjectSynset
    from synsets.models import Synset

    started = time.perf_counter()
    per_block = HIT_SIZE * OTHER_VOTES_PER_ITEM
    blocks = max(0, -(-(target - other["votes"]) // per_block))
    loaded, checks = 0.0, "foreign keys checked"
    if blocks:
        if other["project"] is None:
            other["project"] = Project.objects.create(name="other", slug="other")
            other["workers"] = [u.pk for u in get_user_model().objects.bulk_create(
                get_user_model()(username=f"other-{i:05d}", password="!")
                for i in range(OTHER_WORKERS)
            )]  # fmt: skip
        first_block = other["blocks"]
        first, n = first_block * HIT_SIZE, blocks * HIT_SIZE
        made = Synset.objects.bulk_create(
            [Synset(wnid=f"n{OTHER_WNID_BASE + s:08d}", lemmas=[f"other thing {s}"])
             for s in range(first // OTHER_PER_SYNSET,
                            (first + n - 1) // OTHER_PER_SYNSET + 1)],
            ignore_conflicts=True,
        )  # fmt: skip
        ProjectSynset.objects.bulk_create(
            [ProjectSynset(project=other["project"], synset=s) for s in made],
            ignore_conflicts=True,
        )
        params = {
            "project": other["project"].pk, "workers": other["workers"],
            "nw": len(other["workers"]), "first": first, "last": first + n - 1,
            "first_block": first_block, "last_block": first_block + blocks - 1,
            "per": OTHER_PER_SYNSET, "base": OTHER_WNID_BASE, "hit": HIT_SIZE,
            "rounds": OTHER_VOTES_PER_ITEM,
        }  # fmt: skip
        # The generated rows are consistent by construction: no per-row foreign-key checks.
        with (
            connection.cursor() as cursor,
            bulk_load(cursor, unchecked_foreign_keys=True) as checks,
        ):
            cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM labeling_item")
            params["item_base"] = cursor.fetchone()[0] - first
            cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM labeling_assignment")
            params["assignment_base"] = cursor.fetchone()[0] - first_block * OTHER_VOTES_PER_ITEM
            # Image g (of every load so far) belongs to synset g / per and HIT g / 24; it is
            # good when g % 5 <> 0; a third of the images (g % 3 = 0) get one wrong vote, in
            # round g % 10. Round r of HIT b is assignment b * 10 + r, by a different worker.
            wnid = "'n' || lpad((%(base)s + {} / %(per)s)::text, 8, '0')"
            worker = "(%(workers)s::int[])[(({}) * 7 + r * 13) %% %(nw)s + 1]"
            cursor.execute(
                f"""
                INSERT INTO labeling_item (id, created_at, updated_at, project_id, synset_id,
                    candidate_id, is_seed, is_gold, gold_label, state, votes_needed,
                    active_leases, yes_votes, no_votes, posterior)
                SELECT %(item_base)s + g, now(), now(), %(project)s, {wnid.format("g")}, g + 1,
                       false, false, NULL,
                       CASE WHEN g %% 5 <> 0 THEN 'accepted' ELSE 'rejected' END, 0, 0,
                       CASE WHEN g %% 5 <> 0 THEN %(rounds)s - (g %% 3 = 0)::int
                            ELSE (g %% 3 = 0)::int END,
                       CASE WHEN g %% 5 <> 0 THEN (g %% 3 = 0)::int
                            ELSE %(rounds)s - (g %% 3 = 0)::int END,
                       CASE WHEN g %% 5 <> 0 THEN 0.99 ELSE 0.01 END
                  FROM generate_series(%(first)s, %(last)s) AS g
                """,
                params,
            )
            cursor.execute(
                f"""
                INSERT INTO labeling_assignment (id, created_at, updated_at, project_id,
                    worker_id, synset_id, status, lease_expires_at, submitted_at, duration_ms,
                    reward_cents)
                SELECT %(assignment_base)s + b * %(rounds)s + r, now(), now(), %(project)s,
                       {worker.format("b")}, {wnid.format("(b * %(hit)s)")}, 'submitted',
                       now(), now(), 30000, 5
                  FROM generate_series(%(first_block)s, %(last_block)s) AS b,
                       generate_series(0, %(rounds)s - 1) AS r
                """,
                params,
            )
            for table, columns, values in (
                ("labeling_assignmentitem", "position, is_gold", "g %% %(hit)s, false"),
                ("labeling_vote", "label, status, created_at",
                 "(g %% 5 <> 0) <> (g %% 3 = 0 AND r = g %% 10), 'confirmed', now()"),
            ):  # fmt: skip
                cursor.execute(
                    f"""
                    INSERT INTO {table} (item_id, worker_id, assignment_id, {columns})
                    SELECT %(item_base)s + g, {worker.format("g / %(hit)s")},
                           %(assignment_base)s + (g / %(hit)s) * %(rounds)s + r, {values}
                      FROM generate_series(%(first)s, %(last)s) AS g,
                           generate_series(0, %(rounds)s - 1) AS r
                    """,
                    params,
                )
            for table in ("labeling_item", "labeling_assignment"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            loaded = time.perf_counter() - started
        other["blocks"] += blocks
        other["votes"] += blocks * per_block
    with connection.cursor() as cursor:
        for table in LOAD_TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    seconds = time.perf_counter() - started
    if blocks:
        print(f"generated {blocks * per_block:,} other votes ({blocks * HIT_SIZE:,} images, "
              f"{blocks * OTHER_VOTES_PER_ITEM:,} assignments; {checks}) in {loaded:.1f} s "
              f"(+ indexes and VACUUM ANALYZE: {seconds - loaded:.1f} s); the tables now hold "
              f"{other['votes']:,} other votes", flush=True)  # fmt: skip
    else:
        print(f"nothing to generate; VACUUM ANALYZE: {seconds:.1f} s", flush=True)
    return seconds


def summarize(rows: list[tuple]) -> None:
    print()
    print("| other votes | method | generation s | baseline s | worst case s (÷ baseline) | "
          "typical case s (÷ baseline) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for votes, method, generation, base, worst, typical, worst_ratio, typical_ratio in rows:
        print(f"| {votes:,} | {method} | {generation:.1f} | {base:.3f} | {worst:.3f} "
              f"({worst_ratio:.2f}) | {typical:.3f} ({typical_ratio:.2f}) |")  # fmt: skip
    print("medians; pair-by-pair ratios above.")
    for method in dict.fromkeys(row[1] for row in rows):
        own = [row for row in rows if row[1] == method]
        if len(own) > 1:
            (small, *_, big) = own
            print(f"growth {small[0]:,} → {big[0]:,} other votes, {method}: baseline "
                  f"×{big[3] / small[3]:.2f}, worst case ×{big[4] / small[4]:.2f}, typical "
                  f"case ×{big[5] / small[5]:.2f} (flat: ≈ 1)")  # fmt: skip


if __name__ == "__main__":
    main()
