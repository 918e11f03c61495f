"""The box loop's services on PostgreSQL: drawing, verification, the loop's transitions, the
scheduler's promises and refusals of bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from boxes import loop
from boxes.consensus import box_consensus_recompute
from boxes.models import Box, BoxAssignment, BoxImage, BoxTask, BoxVote, TaskKind
from boxes.scheduler import box_assignment_release, box_leases_expire, box_task_next_for_worker
from boxes.services import (
    AlreadySubmittedDifferently,
    MalformedBox,
    TaskNotInAssignment,
    WrongKind,
    box_draw_submit,
    box_gold_add,
    box_images_sync,
    box_verify_submit,
)
from labeling.models import Item
from tests.boxes.factories import boxed_project, workers

pytestmark = pytest.mark.django_db


def _draw(project, worker, box=None, nothing_left=False):
    assignment = box_task_next_for_worker(project=project, worker=worker, kind=TaskKind.DRAW)
    task = assignment.tasks.get()
    return assignment, task, box_draw_submit(
        assignment_id=assignment.pk, worker=worker, task_id=task.pk, box=box,
        nothing_left=nothing_left, duration_ms=1500,
    )  # fmt: skip


def _verify_all(project, verifiers, kind, label):
    for worker in verifiers:
        assignment = box_task_next_for_worker(project=project, worker=worker, kind=kind)
        if assignment is None:
            continue
        yes, no = [], []
        for task in assignment.tasks.all():
            answer = task.gold_label if task.is_gold else label
            (yes if answer else no).append(task.pk)
        box_verify_submit(
            assignment_id=assignment.pk, worker=worker, kind=kind, yes=yes, no=no, duration_ms=900
        )


def _recompute(project, kind):
    for synset_id in project.project_synsets.values_list("synset_id", flat=True):
        box_consensus_recompute(project_id=project.pk, synset_id=synset_id, kind=kind)


def test_sync_brings_each_accepted_image_in_once_with_a_draw_task():
    project = boxed_project(images=3)
    assert BoxImage.objects.filter(project=project, state="drawing").count() == 3
    assert box_images_sync(project=project) == 0
    assert BoxTask.objects.filter(project=project, kind="draw", state="open").count() == 3


def test_sync_ignores_images_not_accepted():
    project = boxed_project(images=2)
    item = Item.objects.filter(project=project).first()
    Item.objects.create(
        project=project, synset_id=item.synset_id, candidate=_another_candidate(item),
        state=Item.State.PENDING,
    )  # fmt: skip
    assert box_images_sync(project=project) == 0


def _another_candidate(item):
    from tests.factories import candidates_make

    return candidates_make(item.synset, 1)[0]


def _gold_pair(project):
    """A good and a bad gold box on one more accepted image: what calibrates the verifiers."""
    item = Item.objects.create(
        project=project, synset_id=project.project_synsets.get().synset_id,
        candidate=_another_candidate(Item.objects.filter(project=project).first()),
        state=Item.State.ACCEPTED,
    )  # fmt: skip
    box_gold_add(item=item, box={"x": 10, "y": 10, "w": 40, "h": 40}, good=True)
    box_gold_add(item=item, box={"x": 0, "y": 0, "w": 90, "h": 8}, good=False)


def test_full_loop_box_accepted_then_coverage_verified():
    # Given one image, a drawer, three verifiers and gold boxes
    project = boxed_project(images=1)
    _gold_pair(project)
    drawer, *verifiers = workers(4)
    # When the drawer boxes it and three others say the box is good and the image covered
    _, _, result = _draw(project, drawer, {"x": 10, "y": 5, "w": 40, "h": 30})
    box = Box.objects.get(pk=result.box_id)
    assert box.image.state == BoxImage.State.QUALITY
    _verify_all(project, verifiers, TaskKind.QUALITY, True)
    _recompute(project, TaskKind.QUALITY)
    box.refresh_from_db()
    assert box.state == Box.State.ACCEPTED
    image = box.image
    image.refresh_from_db()
    assert image.state == BoxImage.State.COVERAGE
    coverage = BoxTask.objects.get(image=image, kind="coverage")
    assert coverage.boxes_shown == [box.pk]
    _verify_all(project, verifiers, TaskKind.COVERAGE, True)
    _recompute(project, TaskKind.COVERAGE)
    # Then the image is covered and waits for nothing
    image.refresh_from_db()
    assert image.state == BoxImage.State.COVERED
    assert not BoxTask.objects.filter(image=image, state="open").exists()


def test_rejected_box_sends_the_image_back_to_drawing():
    project = boxed_project(images=1)
    _gold_pair(project)
    drawer, *verifiers = workers(4)
    _, _, result = _draw(project, drawer, {"x": 0, "y": 0, "w": 96, "h": 72})
    _verify_all(project, verifiers, TaskKind.QUALITY, False)
    _recompute(project, TaskKind.QUALITY)
    box = Box.objects.get(pk=result.box_id)
    assert box.state == Box.State.REJECTED
    image = box.image
    image.refresh_from_db()
    assert image.state == BoxImage.State.DRAWING
    assert image.draw_rounds == 2
    assert BoxTask.objects.filter(image=image, kind="draw", state="open").count() == 1


def test_not_covered_sends_the_image_back_to_drawing():
    project = boxed_project(images=1)
    _gold_pair(project)
    drawer, *verifiers = workers(4)
    _draw(project, drawer, {"x": 1, "y": 1, "w": 20, "h": 20})
    _verify_all(project, verifiers, TaskKind.QUALITY, True)
    _recompute(project, TaskKind.QUALITY)
    _verify_all(project, verifiers, TaskKind.COVERAGE, False)
    _recompute(project, TaskKind.COVERAGE)
    image = BoxImage.objects.get(project=project, is_gold=False)
    assert image.state == BoxImage.State.DRAWING
    assert image.boxes.filter(state="accepted").count() == 1


def _box_accepted(project, drawer):
    """``drawer`` boxes the project's image and the loop accepts the box (coverage opens)."""
    _, task, result = _draw(project, drawer, {"x": 10, "y": 5, "w": 40, "h": 30})
    quality = BoxTask.objects.get(box_id=result.box_id, kind=TaskKind.QUALITY)
    loop.quality_decided(image=quality.image, task=quality, accepted=True, posterior=None,
                         config=project.box_settings)  # fmt: skip
    return Box.objects.get(pk=result.box_id)


def test_nothing_left_after_an_accepted_box_is_a_coverage_yes_from_the_drawer():
    # Given an image with one accepted box, sent back to drawing by a "not covered" verdict
    project = boxed_project(images=1)
    first, second = workers(2)
    box = _box_accepted(project, first)
    coverage = BoxTask.objects.get(image=box.image, kind=TaskKind.COVERAGE, state="open")
    loop.coverage_decided(image=box.image, task=coverage, covered=False, posterior=None,
                          config=project.box_settings)  # fmt: skip
    # When the next drawer says there is nothing left to box
    _, _, result = _draw(project, second, nothing_left=True)
    # Then that is the first "yes" of a new coverage question, which they are not asked again
    assert result.nothing_left and result.box_id is None
    task = BoxTask.objects.get(project=project, kind="coverage", state="open")
    assert list(task.votes.values_list("worker_id", "label")) == [(second.pk, True)]
    assert task.image.state == BoxImage.State.COVERAGE
    assert box_task_next_for_worker(project=project, worker=second, kind="coverage") is None


def test_nothing_left_on_an_image_without_a_box_asks_another_drawer():
    # An accepted image shows at least one instance: "nothing to box" before any box is
    # accepted is not a coverage answer (it once let boxless images count as covered).
    project = boxed_project(images=1)
    config = project.box_settings
    config.max_draw_rounds = 2
    config.save()
    first, second = workers(2)
    _, _, result = _draw(project, first, nothing_left=True)
    assert result.nothing_left
    assert not BoxTask.objects.filter(project=project, kind="coverage").exists()
    image = BoxImage.objects.get(project=project, is_gold=False)
    assert (image.state, image.draw_rounds) == (BoxImage.State.DRAWING, 2)
    # ... the same drawer is not asked to draw on it again, another one is
    assert box_task_next_for_worker(project=project, worker=first, kind="draw") is None
    _draw(project, second, nothing_left=True)
    # ... and once the draw rounds are spent the image is left for a person
    image.refresh_from_db()
    assert image.state == BoxImage.State.INCOMPLETE
    assert not BoxTask.objects.filter(project=project, state="open").exists()


def test_image_given_up_after_its_draw_rounds():
    project = boxed_project(images=1)
    _gold_pair(project)
    config = project.box_settings
    config.max_draw_rounds = 1
    config.save()
    drawer, *verifiers = workers(4)
    _draw(project, drawer, {"x": 1, "y": 1, "w": 20, "h": 20})
    _verify_all(project, verifiers, TaskKind.QUALITY, False)
    _recompute(project, TaskKind.QUALITY)
    image = BoxImage.objects.get(project=project, is_gold=False)
    assert image.state == BoxImage.State.INCOMPLETE
    assert not BoxTask.objects.filter(image=image, state="open").exists()


# -- the scheduler's promises ------------------------------------------------------------------


def test_a_draw_task_goes_to_one_worker_at_a_time():
    project = boxed_project(images=1)
    first, second = workers(2)
    assert box_task_next_for_worker(project=project, worker=first, kind="draw") is not None
    assert box_task_next_for_worker(project=project, worker=second, kind="draw") is None


def test_nobody_verifies_their_own_box():
    project = boxed_project(images=1)
    drawer, other = workers(2)
    _draw(project, drawer, {"x": 1, "y": 1, "w": 20, "h": 20})
    assert box_task_next_for_worker(project=project, worker=drawer, kind="quality") is None
    assert box_task_next_for_worker(project=project, worker=other, kind="quality") is not None


def test_a_task_is_never_given_twice_to_a_worker_even_after_release():
    project = boxed_project(images=1)
    drawer, verifier = workers(2)
    _draw(project, drawer, {"x": 1, "y": 1, "w": 20, "h": 20})
    assignment = box_task_next_for_worker(project=project, worker=verifier, kind="quality")
    assert box_assignment_release(assignment_id=assignment.pk, worker=verifier)
    assert box_task_next_for_worker(project=project, worker=verifier, kind="quality") is None
    task = BoxTask.objects.get(project=project, kind="quality")
    assert task.active_leases == 0


def test_expired_lease_returns_the_draw_task_to_the_pool():
    project = boxed_project(images=1)
    first, second = workers(2)
    assignment = box_task_next_for_worker(project=project, worker=first, kind="draw")
    BoxAssignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert box_leases_expire() == 1
    assert box_task_next_for_worker(project=project, worker=second, kind="draw") is not None


def test_late_box_on_an_expired_lease_is_kept_while_nobody_answered():
    project = boxed_project(images=1)
    (drawer,) = workers(1)
    assignment = box_task_next_for_worker(project=project, worker=drawer, kind="draw")
    task = assignment.tasks.get()
    BoxAssignment.objects.filter(pk=assignment.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    box_leases_expire()
    result = box_draw_submit(
        assignment_id=assignment.pk, worker=drawer, task_id=task.pk,
        box={"x": 1, "y": 1, "w": 20, "h": 20},
    )  # fmt: skip
    assert result.box_id is not None
    task.refresh_from_db()
    assert task.active_leases == 0


def test_gold_quality_tasks_are_mixed_into_quality_grids():
    project = boxed_project(images=2)
    item = Item.objects.filter(project=project).first()
    gold = box_gold_add(item=item, box={"x": 2, "y": 2, "w": 30, "h": 30}, good=True)
    drawer, verifier = workers(2)
    _draw(project, drawer, {"x": 1, "y": 1, "w": 20, "h": 20})
    assignment = box_task_next_for_worker(project=project, worker=verifier, kind="quality")
    assert set(assignment.tasks.values_list("pk", flat=True)) >= {gold.pk}
    assert assignment.assignment_tasks.get(task=gold).is_gold


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ({"x": -1, "y": 0, "w": 20, "h": 20}, "inside the image"),
        ({"x": 80, "y": 0, "w": 20, "h": 20}, "inside the image"),
        ({"x": 0, "y": 0, "w": 2, "h": 20}, "too small"),
        ({"x": 0, "y": 0, "w": 20.5, "h": 20}, "whole number"),
        ({"x": 0, "y": 0, "w": "20", "h": 20}, "whole number"),
        ({"x": 0, "y": 0, "w": True, "h": 20}, "whole number"),
        ({"x": 0, "y": 0, "w": 20}, "exactly x, y, w and h"),
        ([0, 0, 20, 20], "an object"),
    ],
)
def test_malformed_box_is_refused_and_nothing_changes(box, message):
    project = boxed_project(images=1)
    (drawer,) = workers(1)
    assignment = box_task_next_for_worker(project=project, worker=drawer, kind="draw")
    task = assignment.tasks.get()
    with pytest.raises(MalformedBox, match=message):
        box_draw_submit(assignment_id=assignment.pk, worker=drawer, task_id=task.pk, box=box)
    assert not Box.objects.exists()
    assignment.refresh_from_db()
    task.refresh_from_db()
    assert assignment.status == "leased" and task.state == "open" and task.active_leases == 1


def test_box_and_nothing_left_together_are_refused():
    project = boxed_project(images=1)
    (drawer,) = workers(1)
    assignment = box_task_next_for_worker(project=project, worker=drawer, kind="draw")
    task = assignment.tasks.get()
    with pytest.raises(MalformedBox, match="either one box or nothing_left"):
        box_draw_submit(
            assignment_id=assignment.pk, worker=drawer, task_id=task.pk,
            box={"x": 1, "y": 1, "w": 20, "h": 20}, nothing_left=True,
        )  # fmt: skip
    assert not Box.objects.exists() and not BoxVote.objects.exists()


def test_box_for_an_image_not_in_the_task_is_refused():
    project = boxed_project(images=2)
    (drawer,) = workers(1)
    assignment = box_task_next_for_worker(project=project, worker=drawer, kind="draw")
    other = BoxTask.objects.exclude(pk=assignment.tasks.get().pk).get(kind="draw")
    with pytest.raises(TaskNotInAssignment, match="not the one in this task"):
        box_draw_submit(
            assignment_id=assignment.pk, worker=drawer, task_id=other.pk,
            box={"x": 1, "y": 1, "w": 20, "h": 20},
        )  # fmt: skip
    assert not Box.objects.exists()
    other.refresh_from_db()
    assert other.state == "open"


def test_verification_answers_must_be_exactly_the_assignments_tasks():
    project = boxed_project(images=2)
    drawer, verifier = workers(2)
    _draw(project, drawer, {"x": 1, "y": 1, "w": 20, "h": 20})
    assignment = box_task_next_for_worker(project=project, worker=verifier, kind="quality")
    ids = list(assignment.tasks.values_list("pk", flat=True))
    stranger = BoxTask.objects.filter(kind="draw").first().pk
    with pytest.raises(TaskNotInAssignment):
        box_verify_submit(
            assignment_id=assignment.pk,
            worker=verifier,
            kind="quality",
            yes=ids + [stranger],
            no=[],
        )
    with pytest.raises(TaskNotInAssignment):
        box_verify_submit(
            assignment_id=assignment.pk, worker=verifier, kind="quality", yes=ids, no=ids
        )
    with pytest.raises(WrongKind):
        box_verify_submit(
            assignment_id=assignment.pk, worker=verifier, kind="coverage", yes=ids, no=[]
        )
    assert not BoxVote.objects.exists()


def test_replayed_draw_returns_the_stored_result_and_adds_nothing():
    project = boxed_project(images=1)
    (drawer,) = workers(1)
    assignment, task, first = _draw(project, drawer, {"x": 1, "y": 1, "w": 20, "h": 20})
    again = box_draw_submit(
        assignment_id=assignment.pk, worker=drawer, task_id=task.pk,
        box={"x": 1, "y": 1, "w": 20, "h": 20}, duration_ms=1500,
    )  # fmt: skip
    assert again == first
    assert Box.objects.count() == 1
    with pytest.raises(AlreadySubmittedDifferently):
        box_draw_submit(
            assignment_id=assignment.pk, worker=drawer, task_id=task.pk,
            box={"x": 2, "y": 1, "w": 20, "h": 20},
        )  # fmt: skip
    assert Box.objects.count() == 1


def test_replayed_verification_adds_no_votes():
    project = boxed_project(images=1)
    drawer, verifier = workers(2)
    _draw(project, drawer, {"x": 1, "y": 1, "w": 20, "h": 20})
    assignment = box_task_next_for_worker(project=project, worker=verifier, kind="quality")
    ids = list(assignment.tasks.values_list("pk", flat=True))
    first = box_verify_submit(
        assignment_id=assignment.pk, worker=verifier, kind="quality", yes=ids, no=[]
    )
    again = box_verify_submit(
        assignment_id=assignment.pk, worker=verifier, kind="quality", yes=ids, no=[]
    )
    assert first == again
    assert BoxVote.objects.count() == len(ids)
    with pytest.raises(AlreadySubmittedDifferently):
        box_verify_submit(
            assignment_id=assignment.pk, worker=verifier, kind="quality", yes=[], no=ids
        )
    assert set(BoxVote.objects.values_list("label", flat=True)) == {True}


def test_sync_sweep_brings_newly_accepted_images_in():
    from boxes.tasks import box_images_sync_sweep

    project = boxed_project(images=1)
    item = Item.objects.filter(project=project).first()
    Item.objects.create(
        project=project, synset_id=item.synset_id, candidate=_another_candidate(item),
        state=Item.State.ACCEPTED,
    )  # fmt: skip
    assert box_images_sync_sweep() == 1
    assert box_images_sync_sweep() == 0


def test_gold_coverage_questions_are_mixed_into_coverage_grids():
    from boxes.services import box_gold_coverage_add

    project = boxed_project(images=2)
    item = Item.objects.filter(project=project).first()
    gold = box_gold_coverage_add(
        item=item, boxes=[{"x": 2, "y": 2, "w": 30, "h": 30}], covered=False
    )
    (drawer, verifier) = workers(2)
    _box_accepted(project, drawer)
    assignment = box_task_next_for_worker(project=project, worker=verifier, kind="coverage")
    assert gold.pk in set(assignment.tasks.values_list("pk", flat=True))
    from boxes.selectors import box_assignment_payload

    shown = {t["id"]: t["boxes"] for t in box_assignment_payload(assignment=assignment)["tasks"]}
    assert [(b["x"], b["w"]) for b in shown[gold.pk]] == [(2, 30)]
