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
def test_recompute_locks_no_synset_row_and_images_in_key_order():
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

    # Then no row of the synset or its project is locked (recomputes of one synset are
    # serialised by an advisory lock) and the changed images are locked in ascending primary
    # key (then written)
    locking = [sql for sql in captured if "FOR UPDATE" in sql or "FOR NO KEY UPDATE" in sql]
    assert not [sql for sql in locking if "labeling_projectsynset" in sql or "project" in sql]
    assert any("pg_advisory_xact_lock" in sql for sql in captured)
    item_locks = [sql for sql in locking if 'FROM "labeling_item"' in sql]
    assert len(item_locks) == 1, locking
    assert "ORDER BY id FOR NO KEY UPDATE" in item_locks[0]  # one table: no OF needed
    assert set(Item.objects.filter(project=project).values_list("votes_needed", flat=True)) == {2}


@pytest.mark.django_db(transaction=True)
def test_a_vote_committed_during_a_recompute_enqueues_the_next_one_without_waiting():
    from unittest import mock

    from consensus import recompute as recompute_module
    from consensus import tasks

    # Given a recompute paused after it has read the synset's votes
    project = project_make(images=6, images_per_hit=6, min_votes=2, gold_per_hit=0)
    project_synset = ProjectSynset.objects.get(project=project)
    ProjectSynset.objects.filter(pk=project_synset.pk).update(needs_recompute=True)
    has_read, resume = threading.Event(), threading.Event()
    decide = recompute_module._decide
    errors: list[BaseException] = []

    def paused_decide(*args, **kwargs):
        has_read.set()
        resume.wait(30)
        return decide(*args, **kwargs)

    def recompute() -> None:
        try:
            synset_recompute_consensus(project_synset_id=project_synset.pk)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    sent = []

    def vote_committed() -> None:
        # What a submission does once its votes are committed (the broker is the boundary)
        try:
            with mock.patch.object(tasks.recompute_synset, "apply_async") as send:
                tasks.recompute_synset_later(project_synset.pk)
            sent.append(send.call_count)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    with mock.patch.object(recompute_module, "_decide", paused_decide):
        worker = threading.Thread(target=recompute)
        worker.start()
        assert has_read.wait(30)
        # When a vote is committed while it computes
        submission = threading.Thread(target=vote_committed)
        submission.start()
        submission.join(20)
        # Then the submission neither waits for the recompute nor loses its trigger
        finished_first = not submission.is_alive()
        resume.set()
        worker.join(60)
        submission.join(20)

    assert not errors, errors
    assert finished_first, "the submission waited for the recompute's transaction"
    assert sent == [1]
    project_synset.refresh_from_db()
    assert project_synset.needs_recompute  # the next recompute will read that vote
    assert project_synset.recomputed_at is not None
