"""The consensus recompute against the scheduler on PostgreSQL: the locks each takes never form
a cycle (issue 13, finding 3: recompute tasks and next-HIT requests died with DeadlockDetected
"while locking tuple … in relation labeling_project" under load)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from consensus.recompute import synset_recompute_consensus
from labeling.hits import scheduler
from labeling.models import Assignment, Item, ProjectSynset
from labeling.roles import annotator_create
from tests.factories import project_make


def _waiting_locks() -> int:
    """Lock requests of this database's sessions that are waiting right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_recompute_waiting_for_leased_images_never_deadlocks_a_new_hit():
    # Given a synset whose every image the recompute will rewrite (votes_needed 7 → 2)
    project = project_make(images=12, images_per_hit=6, min_votes=2, gold_per_hit=0)
    worker = annotator_create(username="leaser", password=None)
    project_synset = ProjectSynset.objects.get(project=project)
    Item.objects.filter(project=project).update(votes_needed=7)
    leased = threading.Event()
    errors: list[BaseException] = []
    results: dict[str, object] = {}

    def new_hit() -> None:
        # The scheduler's transaction, paused between leasing its images and recording the HIT
        # (where the recompute slips in under load).
        try:
            with transaction.atomic():
                item_ids = scheduler._items_lease(
                    project=project, worker=worker, synset_id=project_synset.synset_id, limit=6
                )
                leased.set()
                deadline = time.monotonic() + 20
                while _waiting_locks() == 0 and time.monotonic() < deadline:
                    time.sleep(0.05)
                results["assignment"] = scheduler._assignment_create(
                    project=project, worker=worker, synset_id=project_synset.synset_id,
                    item_ids=item_ids,
                )  # fmt: skip
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            leased.set()
            connection.close()

    def recompute() -> None:
        try:
            leased.wait(20)
            results["summary"] = synset_recompute_consensus(
                project_synset_id=project_synset.pk
            )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    # When the recompute runs while a new HIT holds its leased images
    threads = [threading.Thread(target=new_hit), threading.Thread(target=recompute)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # Then both finish (no DeadlockDetected): the recompute waits for the HIT's images and
    # never holds the project row the HIT's INSERT needs
    assert not errors, errors
    assert Assignment.objects.filter(pk=results["assignment"].pk).exists()
    assert results["summary"].changed == 12
    assert set(Item.objects.filter(project=project).values_list("votes_needed", flat=True)) == {2}
    assert Item.objects.filter(project=project, active_leases=1).count() == 6


@pytest.mark.django_db(transaction=True)
def test_recompute_locks_its_synset_row_only_and_images_in_key_order():
    # Given a recompute in progress, holding its locks
    project = project_make(images=6, images_per_hit=6, min_votes=2, gold_per_hit=0)
    project_synset = ProjectSynset.objects.get(project=project)
    Item.objects.filter(project=project).update(votes_needed=5)
    captured: list[str] = []

    def spy(execute, sql, params, many, context):
        captured.append(sql)
        return execute(sql, params, many, context)

    # When it runs
    with connection.execute_wrapper(spy):
        synset_recompute_consensus(project_synset_id=project_synset.pk)

    # Then the synset's row is locked OF itself (never the project row) and the changed images
    # are locked in ascending primary key (then written)
    locking = [sql for sql in captured if "FOR UPDATE" in sql or "FOR NO KEY UPDATE" in sql]
    synset_lock = next(sql for sql in locking if "labeling_projectsynset" in sql)
    assert 'FOR UPDATE OF "labeling_projectsynset"' in synset_lock
    item_locks = [sql for sql in locking if 'FROM "labeling_item"' in sql]
    assert len(item_locks) == 1, locking
    assert "ORDER BY id FOR NO KEY UPDATE" in item_locks[0]  # one table: no OF needed
    assert set(Item.objects.filter(project=project).values_list("votes_needed", flat=True)) == {2}
