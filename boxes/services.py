"""Write services of the box stage: bring accepted images into the loop, add gold boxes, and
take the answers of draw and verification assignments.

Submissions are idempotent: a re-post of a submitted assignment with the same answer returns
the stored result and changes nothing; a different answer is refused. Every refusal raises a
:class:`BoxSubmissionError` before anything is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.errors import CodedError
from labeling.leases import assignment_submitted
from labeling.models import Item, Project
from labeling.quality import worker_profile_get

from . import loop
from .geometry import BoxInvalid, PixelBox, box_parse
from .models import (
    Box,
    BoxAssignment,
    BoxAssignmentTask,
    BoxImage,
    BoxProject,
    BoxTask,
    BoxVote,
    TaskKind,
)
from .project_settings import box_settings_get


class BoxSubmissionError(CodedError):
    code = "invalid"


class AssignmentNotFound(BoxSubmissionError):
    code = "not_found"


class WrongKind(BoxSubmissionError):
    code = "wrong_kind"


class AlreadySubmittedDifferently(BoxSubmissionError):
    code = "already_submitted"


class LeaseExpired(BoxSubmissionError):
    code = "lease_expired"


class ProjectClosed(BoxSubmissionError):
    code = "project_closed"


class TaskNotInAssignment(BoxSubmissionError):
    code = "task_not_in_assignment"


class MalformedBox(BoxSubmissionError):
    code = "malformed_box"


@dataclass(frozen=True)
class BoxSubmitResult:
    assignment_id: int
    kind: str
    answers_recorded: int
    reward_cents: int
    box_id: int | None = None
    nothing_left: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


# -- bringing images into the loop --------------------------------------------------------------


@transaction.atomic
def box_images_sync(*, project: Project, limit: int | None = None) -> int:
    """Give every accepted (non-gold) image of ``project`` without a box record one, with its
    first draw task. Idempotent; returns how many images entered the loop."""
    config = box_settings_get(project=project)
    items = (
        Item.objects.filter(project=project, state=Item.State.ACCEPTED, is_gold=False)
        .filter(box_image__isnull=True)
        .select_related("candidate")
        .order_by("pk")
    )
    if limit is not None:
        items = items[:limit]
    added = 0
    for item in items:
        width, height = item.candidate.width, item.candidate.height
        if not width or not height:
            continue  # no stored size: the image cannot be boxed
        image = BoxImage.objects.create(
            project=project, item=item, synset_id=item.synset_id, width=width, height=height
        )
        loop.draw_open(image=image, config=config)
        added += 1
    return added


def box_checked(box: dict, *, image: BoxImage, config: BoxProject) -> PixelBox:
    """``box`` parsed and checked against ``image`` (whole pixels, inside it, at least
    ``min_box_px`` on each side); :class:`MalformedBox` otherwise."""
    try:
        return box_parse(box, width=image.width, height=image.height, min_px=config.min_box_px)
    except BoxInvalid as error:
        raise MalformedBox(str(error)) from None


def _gold_image(item: Item) -> BoxImage:
    """``item``'s box record for gold questions: created gold and covered (outside the loop)
    when it has none."""
    candidate = item.candidate
    image, _ = BoxImage.objects.get_or_create(
        item=item,
        defaults={
            "project": item.project, "synset_id": item.synset_id, "width": candidate.width,
            "height": candidate.height, "is_gold": True, "state": BoxImage.State.COVERED,
        },
    )  # fmt: skip
    return image


@transaction.atomic
def box_gold_add(*, item: Item, box: dict, good: bool) -> BoxTask:
    """A gold quality question: ``box`` on ``item``'s image, known to be ``good`` or not. Gold
    tasks are mixed into quality grids and anchor the consensus's worker model."""
    image = _gold_image(item)
    config = box_settings_get(project=item.project)
    parsed = box_checked(box, image=image, config=config)
    stored = Box.objects.create(
        image=image, is_gold=True, state=Box.State.ACCEPTED if good else Box.State.REJECTED,
        **asdict(parsed),
    )  # fmt: skip
    return BoxTask.objects.create(
        project=item.project, synset_id=item.synset_id, image=image, kind=TaskKind.QUALITY,
        box=stored, answers_needed=0, is_gold=True, gold_label=good,
    )  # fmt: skip


@transaction.atomic
def box_gold_coverage_add(*, item: Item, boxes: list[dict], covered: bool) -> BoxTask:
    """A gold coverage question: ``item``'s image with ``boxes`` drawn, known to be ``covered``
    (every instance boxed) or not. Mixed into coverage grids like gold quality boxes."""
    image = _gold_image(item)
    config = box_settings_get(project=item.project)
    shown = []
    for box in boxes:
        parsed = box_checked(box, image=image, config=config)
        stored = Box.objects.create(
            image=image, is_gold=True, state=Box.State.ACCEPTED, **asdict(parsed)
        )
        shown.append(stored.pk)
    return BoxTask.objects.create(
        project=item.project, synset_id=item.synset_id, image=image, kind=TaskKind.COVERAGE,
        boxes_shown=shown, answers_needed=0, is_gold=True, gold_label=covered,
    )  # fmt: skip


# -- submissions --------------------------------------------------------------------------------


def _assignment_for(assignment_id: int, worker: AbstractBaseUser, kind: str) -> BoxAssignment:
    assignment = (
        BoxAssignment.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(pk=assignment_id, worker=worker)
        .first()
    )
    if assignment is None:
        raise AssignmentNotFound("no such box assignment for this worker")
    if assignment.kind != kind:
        raise WrongKind(f"this is a {assignment.kind} assignment, not a {kind} one")
    return assignment


def _replay(assignment: BoxAssignment, answer: dict) -> BoxSubmitResult | None:
    if assignment.status != BoxAssignment.Status.SUBMITTED:
        return None
    stored = assignment.result or {}
    if stored.get("_answer") != answer:
        raise AlreadySubmittedDifferently("this assignment was already submitted")
    return BoxSubmitResult(**{k: v for k, v in stored.items() if not k.startswith("_")})


def _finish(
    assignment: BoxAssignment, result: BoxSubmitResult, answer: dict, duration_ms: int
) -> BoxSubmitResult:
    assignment_submitted(
        assignment,
        now=timezone.now(),
        duration_ms=duration_ms,
        reward_cents=result.reward_cents,
        result={**result.as_dict(), "_answer": answer},
    )
    return result


def _enqueue_recompute(*, project_id: int, synset_id: str, kind: str) -> None:
    from .tasks import box_consensus_recompute_task

    def send() -> None:
        try:
            box_consensus_recompute_task.delay(project_id, synset_id, kind)
        except Exception:  # noqa: BLE001 - the votes are committed; the periodic sweep catches up
            import logging

            logging.getLogger(__name__).warning("box consensus enqueue failed", exc_info=True)

    transaction.on_commit(send)


@transaction.atomic
def box_draw_submit(
    *,
    assignment_id: int,
    worker: AbstractBaseUser,
    task_id: int,
    box: dict | None,
    nothing_left: bool = False,
    duration_ms: int = 0,
) -> BoxSubmitResult:
    """Record one drawn box (or "there is nothing left to box") for a draw assignment.

    ``task_id`` must be the assignment's task; the box must lie inside the image and be at
    least ``min_box_px`` on each side. Exactly one of ``box`` and ``nothing_left``. A box is
    still taken after the lease ran out as long as nobody answered the task meanwhile.
    """
    assignment = _assignment_for(assignment_id, worker, TaskKind.DRAW)
    answer = {"task": task_id, "box": box, "nothing_left": bool(nothing_left)}
    replayed = _replay(assignment, answer)
    if replayed is not None:
        return replayed
    if not assignment.project.active:
        raise ProjectClosed("this project was closed")
    if (box is None) == (not nothing_left):
        raise MalformedBox("send either one box or nothing_left, not both or neither")
    if not BoxAssignmentTask.objects.filter(assignment=assignment, task_id=task_id).exists():
        raise TaskNotInAssignment("that image is not the one in this task")
    worker_profile_get(worker=worker, lock=True)
    images, tasks = loop.images_tasks_lock([task_id])
    task = tasks[task_id]
    image = images[task.image_id]
    config = box_settings_get(project=assignment.project)
    parsed = box_checked(box, image=image, config=config) if box is not None else None
    if task.state != BoxTask.State.OPEN or task.answers_needed == 0:
        raise LeaseExpired("this image was boxed by someone else meanwhile")

    if assignment.status == BoxAssignment.Status.LEASED:
        BoxTask.objects.filter(pk=task.pk, active_leases__gt=0).update(
            active_leases=F("active_leases") - 1
        )
        task.refresh_from_db(fields=["active_leases"])
    box_id = None
    if parsed is not None:
        stored = Box.objects.create(image=image, drawer=worker, **asdict(parsed))
        box_id = stored.pk
        loop.task_close(task, decision="box", posterior=None)
        loop.quality_open(image=image, box=stored, config=config)
    elif image.boxes.filter(state=Box.State.ACCEPTED).exists():
        loop.task_close(task, decision="nothing_left", posterior=None)
        loop.coverage_open(image=image, config=config, nothing_left_from=(worker, assignment))
        _enqueue_recompute(
            project_id=image.project_id, synset_id=image.synset_id, kind=TaskKind.COVERAGE
        )
    else:
        # An accepted image shows at least one instance, so "nothing to box" on an image without
        # an accepted box is not a coverage answer: another drawer is asked (never this one),
        # until the draw rounds run out and the image is left for a person (incomplete).
        loop.task_close(task, decision="nothing_left", posterior=None)
        loop.draw_open(image=image, config=config)
    result = BoxSubmitResult(
        assignment_id=assignment.pk, kind=TaskKind.DRAW, answers_recorded=1,
        reward_cents=config.draw_reward_cents, box_id=box_id, nothing_left=parsed is None,
    )  # fmt: skip
    return _finish(assignment, result, answer, duration_ms)


@transaction.atomic
def box_verify_submit(
    *,
    assignment_id: int,
    worker: AbstractBaseUser,
    kind: str,
    yes: list[int],
    no: list[int],
    duration_ms: int = 0,
) -> BoxSubmitResult:
    """Record yes/no answers for every task of a quality or coverage assignment; ``yes`` and
    ``no`` must together be exactly its tasks. Announces the synset's consensus recompute."""
    if kind not in (TaskKind.QUALITY, TaskKind.COVERAGE):
        raise WrongKind(f"{kind!r} is not a verification")
    assignment = _assignment_for(assignment_id, worker, kind)
    answer = {"yes": sorted(set(yes)), "no": sorted(set(no))}
    replayed = _replay(assignment, answer)
    if replayed is not None:
        return replayed
    if not assignment.project.active:
        raise ProjectClosed("this project was closed")
    entries = dict(
        BoxAssignmentTask.objects.filter(assignment=assignment).values_list("task_id", "is_gold")
    )
    yes_set, no_set = set(yes), set(no)
    if len(yes_set) != len(yes) or len(no_set) != len(no) or yes_set & no_set:
        raise TaskNotInAssignment("each task must be answered exactly once")
    if yes_set | no_set != set(entries):
        raise TaskNotInAssignment("the answers must cover exactly this assignment's tasks")

    worker_profile_get(worker=worker, lock=True)
    _, tasks = loop.images_tasks_lock(entries)
    now = timezone.now()
    expired = (
        assignment.status == BoxAssignment.Status.EXPIRED or assignment.lease_expires_at <= now
    )
    open_ids = [
        pk for pk, gold in entries.items()
        if not gold and tasks[pk].state == BoxTask.State.OPEN and tasks[pk].answers_needed > 0
    ]  # fmt: skip
    if expired and not open_ids:
        raise LeaseExpired("these boxes were verified by other people meanwhile")

    BoxVote.objects.bulk_create(
        [
            BoxVote(task_id=pk, worker=worker, assignment=assignment, label=pk in yes_set)
            for pk in sorted(entries)
        ],
        ignore_conflicts=True,
    )
    held = assignment.status == BoxAssignment.Status.LEASED
    non_gold = [pk for pk, gold in entries.items() if not gold]
    if held:
        BoxTask.objects.filter(pk__in=non_gold, active_leases__gt=0).update(
            active_leases=F("active_leases") - 1
        )
    BoxTask.objects.filter(pk__in=open_ids, answers_needed__gt=0).update(
        answers_needed=F("answers_needed") - 1
    )
    config = box_settings_get(project=assignment.project)
    for synset_id in sorted({tasks[pk].synset_id for pk in entries}):
        loop.consensus_flag(project_id=assignment.project_id, synset_id=synset_id, kind=kind)
        _enqueue_recompute(project_id=assignment.project_id, synset_id=synset_id, kind=kind)
    result = BoxSubmitResult(
        assignment_id=assignment.pk, kind=kind, answers_recorded=len(entries),
        reward_cents=config.reward_cents(kind),
    )  # fmt: skip
    return _finish(assignment, result, answer, duration_ms)
