"""The zero-config local run (`make run`) keeps its data in SQLite: the scheduler's hand-written
statements, the vote core and the consensus recompute must work there too, not only on the
suite's PostgreSQL. Run in a subprocess against a fresh SQLite file, the way `make run` uses it:
two annotators take HITs with the page's prefetch, submit them, and the synset is recomputed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

SCRIPT = """
from consensus.recompute import synset_recompute_consensus
from labeling.hits.scheduler import hit_next_for_worker
from labeling.hits.submission import assignment_submit
from labeling.models import Item, ProjectSynset, Vote
from labeling.projects import project_add_candidates, project_create
from tests.factories import SynsetFactory, candidates_make, workers_make

synset = SynsetFactory()
candidates_make(synset, 30)
project = project_create(name="Local", wnids=[synset.wnid], include_subtrees=False,
                         seed_size=0, images_per_hit=8, gold_per_hit=0)
project_add_candidates(project=project, seed=1)
shown = {}
for worker in workers_make(2, prefix="local"):
    first = hit_next_for_worker(project=project, worker=worker)
    second = hit_next_for_worker(project=project, worker=worker, exclude=[first.pk])
    for assignment in (first, second):
        ids = sorted(assignment.items.values_list("pk", flat=True))
        assert len(ids) == 8, ids
        assert not set(ids) & shown.get(worker.pk, set()), "an image shown twice"
        shown.setdefault(worker.pk, set()).update(ids)
        result = assignment_submit(assignment_id=assignment.pk, worker=worker,
                                   selected=ids[:4], unselected=ids[4:], duration_ms=1000)
        assert result.votes_recorded == 8, result
summary = synset_recompute_consensus(
    project_synset_id=ProjectSynset.objects.get(project=project).pk)
print("votes", Vote.objects.count(), "items", summary.items,
      "leased", sum(Item.objects.values_list("active_leases", flat=True)))
"""


def test_scheduler_votes_and_recompute_work_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'local.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=settings.BASE_DIR,
                   env=env, check=True, capture_output=True, timeout=300)  # fmt: skip
    result = subprocess.run(
        [*manage, "shell", "-c", SCRIPT], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "votes 32 items 30 leased 0" in result.stdout, result.stdout
