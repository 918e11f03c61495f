"""labeling/hits/scheduler.py: which images a worker gets, leases, expiry and concurrency."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from labeling.hits.scheduler import hit_next_for_worker, leases_expire
from labeling.models import Assignment, AssignmentItem, Item
from labeling.quality import worker_block
from labeling.roles import annotator_create
from tests.factories import project_make


def _item_ids(assignment: Assignment) -> list[int]:
    return list(assignment.assignment_items.values_list("item_id", flat=True))


@pytest.mark.django_db
def test_hit_has_images_of_one_synset_and_leases_them(annotator):
    project = project_make(synsets=2, images=30, images_per_hit=6, gold_per_hit=0)

    assignment = hit_next_for_worker(project=project, worker=annotator)

    items = Item.objects.filter(pk__in=_item_ids(assignment))
    assert items.count() == 6
    assert {item.synset_id for item in items} == {assignment.synset_id}
    assert all(item.active_leases == 1 for item in items)
    assert assignment.status == Assignment.Status.LEASED
    assert assignment.lease_expires_at > timezone.now() + timedelta(seconds=590)


@pytest.mark.django_db
def test_live_assignment_is_reused_and_a_second_can_be_prefetched(annotator):
    project = project_make(images=30, images_per_hit=6)

    first = hit_next_for_worker(project=project, worker=annotator)
    again = hit_next_for_worker(project=project, worker=annotator)
    prefetched = hit_next_for_worker(project=project, worker=annotator, exclude=[first.pk])
    third = hit_next_for_worker(
        project=project, worker=annotator, exclude=[first.pk, prefetched.pk]
    )

    assert again.pk == first.pk
    assert prefetched.pk != first.pk
    assert not set(_item_ids(first)) & set(_item_ids(prefetched))
    assert third is None  # at most two live leases per worker


@pytest.mark.django_db
def test_seed_images_come_first(annotator):
    project = project_make(images=40, images_per_hit=5, seed_size=5)
    seeds = set(Item.objects.filter(project=project, is_seed=True).values_list("pk", flat=True))

    assignment = hit_next_for_worker(project=project, worker=annotator)

    assert len(seeds) == 5
    assert set(_item_ids(assignment)) == seeds
    assert Item.objects.filter(pk__in=seeds, votes_needed=project.seed_votes).count() == 5


@pytest.mark.django_db
def test_images_closest_to_a_decision_come_next(annotator):
    project = project_make(images=20, images_per_hit=3, min_votes=3)
    voted = list(Item.objects.filter(project=project).order_by("-pk")[:3])
    Item.objects.filter(pk__in=[i.pk for i in voted]).update(yes_votes=2)

    assignment = hit_next_for_worker(project=project, worker=annotator)

    assert set(_item_ids(assignment)) == {i.pk for i in voted}


@pytest.mark.django_db
def test_gold_images_are_mixed_in_at_the_project_rate(annotator):
    project = project_make(images=30, gold=4, images_per_hit=6, gold_per_hit=2)

    assignment = hit_next_for_worker(project=project, worker=annotator)

    rows = list(assignment.assignment_items.select_related("item"))
    assert len(rows) == 8
    assert sum(row.is_gold for row in rows) == 2
    assert all(row.item.is_gold == row.is_gold for row in rows)
    # Gold images do not take a lease: they need no votes.
    assert all(row.item.active_leases == 0 for row in rows if row.is_gold)


@pytest.mark.django_db
def test_no_image_is_leased_more_often_than_it_needs_votes(django_user_model):
    project = project_make(images=6, images_per_hit=6, min_votes=2)
    workers = [annotator_create(username=f"w{n}", password=None) for n in range(3)]

    hits = [hit_next_for_worker(project=project, worker=w) for w in workers]

    assert hits[0] is not None and hits[1] is not None
    assert hits[2] is None
    assert all(i.active_leases == 2 for i in Item.objects.filter(project=project))


@pytest.mark.django_db
def test_blocked_worker_gets_nothing(annotator):
    project = project_make(images=10)
    worker_block(worker=annotator, reason="test")

    assert hit_next_for_worker(project=project, worker=annotator) is None


@pytest.mark.django_db
def test_expired_lease_returns_images_to_pool(annotator):
    project = project_make(images=6, images_per_hit=6, min_votes=1)
    other = annotator_create(username="other", password=None)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    assert hit_next_for_worker(project=project, worker=other) is None

    Assignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = leases_expire()

    assignment.refresh_from_db()
    assert expired == 1
    assert assignment.status == Assignment.Status.EXPIRED
    assert set(Item.objects.filter(project=project).values_list("active_leases", flat=True)) == {0}
    again = hit_next_for_worker(project=project, worker=other)
    assert set(_item_ids(again)) == set(_item_ids(assignment))


@pytest.mark.django_db
def test_worker_is_never_shown_an_image_again_after_expiry(annotator):
    project = project_make(images=6, images_per_hit=6, min_votes=3)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    Assignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert hit_next_for_worker(project=project, worker=annotator) is None


@pytest.mark.django_db
def test_next_hit_query_count_does_not_grow_with_hit_size(django_assert_max_num_queries):
    small = project_make(images=40, gold=4, images_per_hit=6, name="small")
    large = project_make(images=40, gold=4, images_per_hit=24, name="large")
    counts = []
    for n, project in enumerate((small, large)):
        worker = annotator_create(username=f"q{n}", password=None)
        with django_assert_max_num_queries(20) as captured:
            assert hit_next_for_worker(project=project, worker=worker) is not None
        counts.append(len(captured.captured_queries))

    assert counts[0] == counts[1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_workers_never_overlease_nor_repeat():
    # Given 60 images needing 3 votes each and 50 workers asking for 6-image HITs at once
    project = project_make(images=60, images_per_hit=6, min_votes=3, gold_per_hit=0)
    workers = [annotator_create(username=f"c{n}", password=None) for n in range(50)]
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(worker):
        try:
            barrier.wait()
            for _ in range(3):
                hit_next_for_worker(project=project, worker=worker)
                # Submitting is not needed: a worker may hold two live leases.
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then no image is leased more often than it needs votes, and nobody holds one twice
    assert not errors
    leases = Counter(
        AssignmentItem.objects.filter(assignment__status=Assignment.Status.LEASED).values_list(
            "item_id", flat=True
        )
    )
    assert sum(leases.values()) == 60 * 3  # every needed vote is out, none more
    assert max(leases.values()) <= 3
    for item in Item.objects.filter(project=project):
        assert item.active_leases == leases[item.pk] <= item.votes_needed
    pairs = Counter(AssignmentItem.objects.values_list("assignment__worker_id", "item_id"))
    assert max(pairs.values()) == 1


def _submit_answering_gold_right(assignment: Assignment, worker) -> None:
    from labeling.hits.submission import assignment_submit

    ids = _item_ids(assignment)
    gold_yes = Item.objects.filter(pk__in=ids, is_gold=True, gold_label=True)
    yes = set(gold_yes.values_list("pk", flat=True))
    assignment_submit(
        assignment_id=assignment.pk,
        worker=worker,
        selected=sorted(yes),
        unselected=sorted(set(ids) - yes),
        duration_ms=20_000,
    )


@pytest.mark.parametrize("gold_pool", [3, 4, 6])
@pytest.mark.django_db
def test_prefetched_hits_never_share_gold_and_every_submit_succeeds(annotator, gold_pool):
    # Given one synset with a small gold pool (2 gold per HIT) and a worker who, like the grid
    # page, prefetches HIT N+1 while HIT N is on screen
    project = project_make(images=60, gold=gold_pool, images_per_hit=6, gold_per_hit=2)
    seen: Counter[int] = Counter()
    gold_per_hit = []
    on_screen = hit_next_for_worker(project=project, worker=annotator)

    # When they label six HITs in a row, submitting each after the next was prefetched
    for _ in range(6):
        prefetched = hit_next_for_worker(project=project, worker=annotator, exclude=[on_screen.pk])
        assert prefetched is not None and prefetched.pk != on_screen.pk
        _submit_answering_gold_right(on_screen, annotator)  # raises on a refusal
        seen.update(_item_ids(on_screen))
        gold_per_hit.append(on_screen.assignment_items.filter(is_gold=True).count())
        on_screen = prefetched

    # Then no image (gold included) was shown twice, and gold ran out instead of HITs
    seen.update(_item_ids(on_screen))
    assert max(seen.values()) == 1
    assert sum(gold_per_hit) + on_screen.assignment_items.filter(is_gold=True).count() == min(
        gold_pool, 2 * 7
    )
    assert gold_per_hit[0] == 2
    assert gold_per_hit[-1] == 0


@pytest.mark.django_db
def test_released_hit_returns_its_images_at_once_and_is_not_shown_again(annotator):
    from labeling.hits.scheduler import assignment_release

    project = project_make(images=6, images_per_hit=6, min_votes=1)
    other = annotator_create(username="other", password=None)
    assignment = hit_next_for_worker(project=project, worker=annotator)
    assert hit_next_for_worker(project=project, worker=other) is None

    assert assignment_release(assignment_id=assignment.pk, worker=annotator) is True

    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.EXPIRED
    assert set(Item.objects.filter(project=project).values_list("active_leases", flat=True)) == {0}
    assert hit_next_for_worker(project=project, worker=annotator) is None
    assert hit_next_for_worker(project=project, worker=other) is not None
    # Releasing twice, or someone else's HIT, changes nothing.
    assert assignment_release(assignment_id=assignment.pk, worker=annotator) is False


# --- Cost that does not grow with the project (issue 16) ------------------------------------

SCALE_IMAGES = 100_000
SCALE_SYNSETS = 10


def _scale_project(worker, *, history: int):
    """A project of SCALE_IMAGES images over SCALE_SYNSETS synsets, filled in SQL; a third of
    every synset is decided, and ``worker`` has ``history`` past votes (with their assignments),
    spread over the project. Statistics are fresh, as autovacuum would leave them."""
    from labeling.models import Project

    project = project_make(synsets=SCALE_SYNSETS, images=1, images_per_hit=24, gold_per_hit=2)
    Project.objects.filter(pk=project.pk).update(min_votes=3)
    project.refresh_from_db()
    wnids = list(project.project_synsets.order_by("synset_id").values_list("synset_id", flat=True))
    per = SCALE_IMAGES // SCALE_SYNSETS
    params = {"project": project.pk, "wnids": wnids, "per": per, "n": SCALE_IMAGES,
              "worker": worker.pk, "history": history}  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO candidates_candidate (created_at, updated_at, status, reject_reason,
                reject_detail, source, query, image_url, url_hash, page_url, title, license,
                attribution, sha256, format, image, thumbnail, synset_id)
            SELECT now(), now(), 'stored', '', '', 'test', '', 'https://scale.example/' || g,
                   md5(g::text), '', '', '', '', md5(g::text) || md5('scale' || g), 'JPEG',
                   '', '',
                   (%(wnids)s::text[])[g %% array_length(%(wnids)s::text[], 1) + 1]
              FROM generate_series(1, %(n)s) AS g
            """,
            params,
        )
        cursor.execute(
            """
            INSERT INTO labeling_item (created_at, updated_at, project_id, synset_id,
                candidate_id, is_seed, is_gold, gold_label, state, votes_needed, active_leases,
                yes_votes, no_votes)
            SELECT now(), now(), %(project)s, c.synset_id, c.id, false,
                   r %% %(per)s < 20, CASE WHEN r %% %(per)s < 20 THEN r %% 2 = 0 END,
                   CASE WHEN r %% %(per)s < 20 THEN 'accepted'
                        WHEN r %% 3 = 0 THEN 'accepted' ELSE 'pending' END,
                   CASE WHEN r %% %(per)s < 20 OR r %% 3 = 0 THEN 0 ELSE 3 END,
                   0, CASE WHEN r %% 3 = 0 THEN 3 ELSE r %% 2 END, 0
              FROM (SELECT id, synset_id, row_number() OVER (ORDER BY id) AS r
                      FROM candidates_candidate WHERE source = 'test'
                       AND image_url LIKE 'https://scale.example/%%') AS c
            """,
            params,
        )
        cursor.execute(
            """
            WITH past AS (
                INSERT INTO labeling_assignment (created_at, updated_at, project_id, worker_id,
                    synset_id, status, lease_expires_at, submitted_at, reward_cents)
                SELECT now(), now(), %(project)s, %(worker)s, (%(wnids)s::text[])[1],
                       'submitted', now(), now(), 0
                RETURNING id)
            SELECT id FROM past
            """,
            params,
        )
        params["assignment"] = cursor.fetchone()[0]
        cursor.execute(
            """
            WITH chosen AS (
                SELECT id, row_number() OVER (ORDER BY id) AS r FROM labeling_item
                 WHERE project_id = %(project)s AND NOT is_gold AND id %% 7 = 0
                 LIMIT %(history)s),
            links AS (
                INSERT INTO labeling_assignmentitem (assignment_id, item_id, worker_id,
                    position, is_gold)
                SELECT %(assignment)s, id, %(worker)s, r, false FROM chosen)
            INSERT INTO labeling_vote (item_id, worker_id, assignment_id, label, status,
                created_at)
            SELECT id, %(worker)s, %(assignment)s, true, 'confirmed', now() FROM chosen
            """,
            params,
        )
        cursor.execute("ANALYZE")
    return project


def _plan_nodes(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


@pytest.mark.django_db
def test_hot_path_reads_indexes_only_at_a_hundred_thousand_images(annotator):
    # Given 100 k images and a worker with 5,000 past votes
    from labeling.hits import scheduler

    project = _scale_project(annotator, history=5_000)
    synset_id = scheduler._synsets_needing_work(project=project, worker=annotator)[0]
    params = {"project": project.pk, "synset": synset_id, "pending": Item.State.PENDING,
              "worker": annotator.pk, "target": project.target_per_synset,
              "limit": project.images_per_hit}  # fmt: skip

    # When the scheduler's statements are planned (and run, inside this test's transaction)
    plans = {}
    with connection.cursor() as cursor:
        for name, sql in scheduler._statements(connection.vendor).items():
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            plans[name] = _plan_nodes(cursor.fetchone()[0][0]["Plan"])

    # Then no statement scans a table that grows with the project or the worker's history
    # (the project's synset list is small and may be read whole): each walks an index and
    # probes W's seen set per image, never hashing W's history
    growing = {"labeling_item", "labeling_assignmentitem", "labeling_vote", "labeling_assignment"}
    for name, nodes in plans.items():
        scanned = [node.get("Relation Name") for node in nodes if node["Node Type"] == "Seq Scan"]
        assert not growing & set(scanned), (name, scanned)
        assert not any("Hash" in node["Node Type"] for node in nodes), name
    used = {name: {n.get("Index Name") for n in nodes} for name, nodes in plans.items()}
    assert {"item_open_work", "assignment_item_seen"} <= used["synsets"]
    assert {"item_open_work", "assignment_item_seen"} <= used["lease"]
    assert "item_gold_by_synset" in used["gold"]
    # and the lease reads about a HIT's worth of open images, not the synset's 10,000
    walked = next(n for n in plans["lease"] if n.get("Index Name") == "item_open_work")
    assert walked["Actual Rows"] <= 2 * project.images_per_hit


@pytest.mark.django_db
def test_next_hit_costs_seven_queries_whatever_the_project_and_history(annotator):
    from django.test.utils import CaptureQueriesContext

    from labeling.quality import worker_profile_get

    # Given a small project, and a 100 k-image one where the worker has 5,000 past votes
    small = project_make(images=40, gold=4, images_per_hit=24, name="small")
    other = annotator_create(username="small-worker", password=None)
    large = _scale_project(annotator, history=5_000)

    # Then a new HIT costs the same seven statements in both: the profile locked, live
    # HITs, synsets, lease, gold, the assignment and its images — no lease sweep
    for project, worker in ((small, other), (large, annotator)):
        worker_profile_get(worker=worker)
        with CaptureQueriesContext(connection) as captured:
            assignment = hit_next_for_worker(project=project, worker=worker)
        statements = [
            q["sql"] for q in captured.captured_queries
            if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
        ]  # fmt: skip
        assert len(statements) == 7, statements
        assert assignment is not None
        assert assignment.assignment_items.filter(is_gold=True).count() == 2


@pytest.mark.django_db
def test_next_hit_leaves_expired_leases_to_the_periodic_sweep(annotator):
    # Given a worker's HIT whose lease ran out, with the sweep not run yet
    project = project_make(images=12, images_per_hit=6, min_votes=1)
    other = annotator_create(username="other", password=None)
    stale = hit_next_for_worker(project=project, worker=annotator)
    Assignment.objects.filter(pk=stale.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    # When another worker asks for work, the request does not sweep leases
    hit_next_for_worker(project=project, worker=other)
    stale.refresh_from_db()
    assert stale.status == Assignment.Status.LEASED

    # Then the periodic sweep returns the images to the pool
    assert leases_expire() == 1
    stale_ids = _item_ids(stale)
    assert set(Item.objects.filter(pk__in=stale_ids).values_list("active_leases", flat=True)) == {0}


@pytest.mark.django_db
def test_open_work_index_holds_only_images_that_can_take_a_lease(annotator):
    # Given images needing one vote each
    project = project_make(images=8, images_per_hit=4, min_votes=1)

    def open_ids() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM labeling_item WHERE project_id = %s AND NOT is_gold AND "
                "state = 'pending' AND votes_needed > active_leases",
                [project.pk],
            )
            return {row[0] for row in cursor.fetchall()}

    before = open_ids()
    # When a HIT leases four of them, those four leave the open work; released, they return
    hit = hit_next_for_worker(project=project, worker=annotator)
    assert open_ids() == before - set(_item_ids(hit))
    from labeling.hits.scheduler import assignment_release

    assignment_release(assignment_id=hit.pk, worker=annotator)
    assert open_ids() == before
