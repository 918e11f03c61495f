"""Time one synset's consensus recompute on PostgreSQL: 10,000 candidates × 10 votes
(issue 5 target: under 1 s), for both consensus methods.

Usage: .venv/bin/python benchmarks/recompute_db.py [--items 10000] [--votes 10]
Uses a scratch database ``synsetlab_bench_recompute`` (created and dropped).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
DB = "synsetlab_bench_recompute"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--votes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    url = f"postgres://postgres@127.0.0.1:5432/{DB}"
    subprocess.run(["psql", ADMIN, "-qc", f"DROP DATABASE IF EXISTS {DB}"], check=True)
    subprocess.run(["psql", ADMIN, "-qc", f"CREATE DATABASE {DB}"], check=True)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "benchmark-only"}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
    os.environ.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connections
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
        results = {}
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
            timings = []
            for _ in range(args.repeats):
                Item.objects.filter(project=project).update(state="pending", posterior=None,
                                                            votes_needed=1)  # fmt: skip
                started = time.perf_counter()
                summary = synset_recompute_consensus(project_synset_id=project_synset.pk)
                timings.append(time.perf_counter() - started)
            results[method] = (statistics.median(timings), max(timings), summary)
        print(f"{args.items} candidates × {args.votes} votes, PostgreSQL, 2-core machine")
        for method, (median, worst, summary) in results.items():
            print(f"{method:>15}: median {median:.3f} s, max {worst:.3f} s "
                  f"(accepted {summary.accepted}, rejected {summary.rejected}, "
                  f"undecided {summary.undecided}, rows written {summary.changed})")  # fmt: skip
    finally:
        connections.close_all()
        subprocess.run(["psql", ADMIN, "-qc", f"DROP DATABASE IF EXISTS {DB}"], check=True)


if __name__ == "__main__":
    main()
