"""The box loop's state changes (Su, Deng and Fei-Fei 2012): an image waits for one task at a
time — draw one box, verify its quality, verify coverage — and each answer opens the next task.

    drawing ──box──▶ quality ──accepted──▶ coverage ──covered──▶ covered
       ▲   └─"nothing left"──────────────────▲  │
       └──────────── rejected ◀──────────────┘  └──not covered──▶ drawing

Functions here take locked rows: call them inside the caller's transaction, holding the image's
row lock (images are locked before tasks, in primary-key order).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from .models import (
    Box,
    BoxAssignment,
    BoxConsensusState,
    BoxImage,
    BoxProject,
    BoxTask,
    BoxVote,
    TaskKind,
)


def images_tasks_lock(task_ids: Iterable[int]) -> tuple[dict[int, BoxImage], dict[int, BoxTask]]:
    """Lock the images of ``task_ids``, then the tasks themselves, each in primary-key order
    (``FOR NO KEY UPDATE``); returns both by key."""
    task_ids = sorted(set(task_ids))
    image_ids = sorted(
        set(BoxTask.objects.filter(pk__in=task_ids).values_list("image_id", flat=True))
    )
    images = {
        image.pk: image
        for image in BoxImage.objects.select_for_update(no_key=True)
        .filter(pk__in=image_ids)
        .order_by("pk")
    }
    tasks = {
        task.pk: task
        for task in BoxTask.objects.select_for_update(no_key=True)
        .filter(pk__in=task_ids)
        .order_by("pk")
    }
    return images, tasks


def _task_create(image: BoxImage, kind: str, *, answers: int, **fields) -> BoxTask:
    return BoxTask.objects.create(
        project_id=image.project_id,
        synset_id=image.synset_id,
        image=image,
        kind=kind,
        answers_needed=answers,
        **fields,
    )


def draw_open(*, image: BoxImage, config: BoxProject) -> BoxTask | None:
    """Ask for one more box, or give the image up once its draw rounds are spent."""
    if image.draw_rounds >= config.max_draw_rounds:
        image.state = BoxImage.State.INCOMPLETE
        image.save(update_fields=["state", "updated_at"])
        return None
    image.state = BoxImage.State.DRAWING
    image.draw_rounds += 1
    image.save(update_fields=["state", "draw_rounds", "updated_at"])
    return _task_create(image, TaskKind.DRAW, answers=1)


def quality_open(*, image: BoxImage, box: Box, config: BoxProject) -> BoxTask:
    image.state = BoxImage.State.QUALITY
    image.save(update_fields=["state", "updated_at"])
    return _task_create(image, TaskKind.QUALITY, answers=config.quality_min_votes, box=box)


def coverage_open(
    *,
    image: BoxImage,
    config: BoxProject,
    nothing_left_from: tuple[AbstractBaseUser, BoxAssignment] | None = None,
) -> BoxTask:
    """Ask whether every instance is boxed, showing the image's accepted boxes. A drawer's
    "nothing left to box" is this question's first answer (yes)."""
    shown = list(
        image.boxes.filter(state=Box.State.ACCEPTED).order_by("pk").values_list("pk", flat=True)
    )
    image.state = BoxImage.State.COVERAGE
    image.save(update_fields=["state", "updated_at"])
    answers = config.coverage_min_votes
    task = _task_create(image, TaskKind.COVERAGE, answers=answers, boxes_shown=shown)
    if nothing_left_from is not None:
        worker, assignment = nothing_left_from
        BoxVote.objects.create(task=task, worker=worker, assignment=assignment, label=True)
        task.answers_needed = max(answers - 1, 1)
        task.save(update_fields=["answers_needed", "updated_at"])
        consensus_flag(project_id=image.project_id, synset_id=image.synset_id, kind=task.kind)
    return task


def task_close(task: BoxTask, *, decision: str, posterior: float | None) -> None:
    task.state = BoxTask.State.DONE
    task.answers_needed = 0
    task.decision = decision
    task.posterior = posterior
    task.save(update_fields=["state", "answers_needed", "decision", "posterior", "updated_at"])


def quality_decided(
    *, image: BoxImage, task: BoxTask, accepted: bool, posterior: float | None, config: BoxProject
) -> None:
    """A box is accepted (on to coverage) or rejected (back to drawing). An undecided box
    counts as rejected: only verified boxes are exported."""
    task_close(task, decision="accept" if accepted else "reject", posterior=posterior)
    Box.objects.filter(pk=task.box_id).update(
        state=Box.State.ACCEPTED if accepted else Box.State.REJECTED, posterior=posterior
    )
    if accepted:
        coverage_open(image=image, config=config)
    else:
        draw_open(image=image, config=config)


def coverage_decided(
    *, image: BoxImage, task: BoxTask, covered: bool, posterior: float | None, config: BoxProject
) -> None:
    task_close(task, decision="accept" if covered else "reject", posterior=posterior)
    if covered:
        image.state = BoxImage.State.COVERED
        image.save(update_fields=["state", "updated_at"])
    else:
        draw_open(image=image, config=config)


def consensus_flag(*, project_id: int, synset_id: str, kind: str) -> None:
    """Mark a synset's verifications of ``kind`` for a consensus recompute."""
    state, created = BoxConsensusState.objects.get_or_create(
        project_id=project_id, synset_id=synset_id, kind=kind, defaults={"needs_recompute": True}
    )
    if not created and not state.needs_recompute:
        BoxConsensusState.objects.filter(pk=state.pk).update(needs_recompute=True)
