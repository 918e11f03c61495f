"""One synset's consensus recompute on PostgreSQL (10,000 candidates × 10 votes), for both
consensus methods, in the two cases that matter:

- worst case: every item reset before the recompute, so every row is rewritten;
- typical case: the synset is decided and one new HIT arrives (a new worker's 24 votes), so only
  a few rows change;

against a baseline measured in the same run: a raw read of the synset's votes, a majority per
item and one UPDATE of every item row (the least any full recompute does). Repetitions
alternate the order.

Usage: .venv/bin/python benchmarks/recompute_db.py [--items 10000] [--votes 10] [--repeats 3]
(consensus_recompute.py times the engine alone.)
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _bench import (  # noqa: E402
    django_setup,
    header,
    interleaved,
    report,
    scratch_database,
    timed,
    watched,
)

HIT_SIZE = 24


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--votes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    header(f"consensus recompute on PostgreSQL, {args.items} items × {args.votes} votes")
    with scratch_database("recompute") as url:
        django_setup(url)
        run(args)


def run(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from candidates.models import Candidate
    from consensus.recompute import synset_recompute_consensus
    from labeling.models import Assignment, Item, Project, ProjectSynset, Vote
    from synsets.models import Synset

    try:
        rng = random.Random(0)
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
            new_workers = iter(
                get_user_model().objects.bulk_create(
                    get_user_model()(username=f"{method}-new-{i}") for i in range(args.repeats * 2)
                )
            )
            item_ids = [item.pk for item in items]

            def baseline(_rep: int, project=project) -> float:
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

            def worst(_rep: int, project=project, project_synset=project_synset) -> float:
                Item.objects.filter(project=project).update(
                    state="pending", posterior=None, votes_needed=1
                )
                with timed() as t:
                    summary = synset_recompute_consensus(project_synset_id=project_synset.pk)
                print(f"      worst case: {t.line()}; rows written {summary.changed}")
                return t.wall

            def typical(_rep: int, project=project, project_synset=project_synset,
                        new_workers=new_workers, item_ids=item_ids) -> float:  # fmt: skip
                synset_recompute_consensus(project_synset_id=project_synset.pk)  # decided
                worker = next(new_workers)
                assignment = Assignment.objects.create(
                    project=project, worker=worker, synset=synset, status="submitted",
                    lease_expires_at=timezone.now(), submitted_at=timezone.now(),
                )  # fmt: skip
                Vote.objects.bulk_create(
                    Vote(item_id=pk, worker=worker, assignment=assignment,
                         label=rng.random() < 0.5)
                    for pk in rng.sample(item_ids, HIT_SIZE)
                )  # fmt: skip
                with timed() as t:
                    summary = synset_recompute_consensus(project_synset_id=project_synset.pk)
                print(f"      typical case (one new HIT, {HIT_SIZE} votes): {t.line()}; "
                      f"rows written {summary.changed}")  # fmt: skip
                return t.wall

            print(f"-- {method}")
            with watched():
                series = interleaved(
                    [("baseline: raw read + majority + UPDATE of every row", baseline),
                     ("recompute, worst case (all rows rewritten)", worst),
                     ("recompute, typical case (one new HIT)", typical)],
                    repeats=args.repeats, unit="s", higher_is_better=False,
                )  # fmt: skip
            report(series[:2], target="≤ 1.3")
            report([series[0], series[2]])
    finally:
        connection.close()


if __name__ == "__main__":
    main()
