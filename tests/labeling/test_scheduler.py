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
from tests.labeling.project_factories import project_make


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
    pairs = Counter(
        AssignmentItem.objects.values_list("assignment__worker_id", "item_id")
    )
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
        prefetched = hit_next_for_worker(
            project=project, worker=annotator, exclude=[on_screen.pk]
        )
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
