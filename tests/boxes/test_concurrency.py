"""The box scheduler under concurrent workers on PostgreSQL: SKIP LOCKED hands every draw task
to one worker only, and no quality task goes out more often than it needs answers."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from boxes.models import BoxAssignmentTask, BoxTask
from boxes.scheduler import box_task_next_for_worker
from boxes.services import box_draw_submit
from tests.boxes.factories import boxed_project, workers


def _in_threads(fn, args_list):
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(args_list))

    def run(args):
        try:
            barrier.wait()
            fn(*args)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(args,)) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_share_a_draw_task():
    project = boxed_project(images=6)
    crowd = workers(8)

    def take(worker):
        box_task_next_for_worker(project=project, worker=worker, kind="draw")

    _in_threads(take, [(w,) for w in crowd])
    leased = Counter(BoxAssignmentTask.objects.values_list("task_id", flat=True))
    assert len(leased) == 6 and set(leased.values()) == {1}
    assert set(BoxTask.objects.filter(kind="draw").values_list("active_leases", flat=True)) == {1}


@pytest.mark.django_db(transaction=True)
def test_concurrent_verifiers_never_overlease_a_quality_task():
    project = boxed_project(images=1)
    drawer, *verifiers = workers(7)
    assignment = box_task_next_for_worker(project=project, worker=drawer, kind="draw")
    box_draw_submit(
        assignment_id=assignment.pk, worker=drawer, task_id=assignment.tasks.get().pk,
        box={"x": 1, "y": 1, "w": 20, "h": 20},
    )  # fmt: skip
    needed = BoxTask.objects.get(kind="quality").answers_needed

    def take(worker):
        box_task_next_for_worker(project=project, worker=worker, kind="quality")

    _in_threads(take, [(w,) for w in verifiers])
    # A row another verifier is leasing right now is skipped, not waited for: a task may get
    # fewer leases than it needs in one burst (the others come back for it), never more.
    task = BoxTask.objects.get(kind="quality")
    assert 1 <= task.active_leases <= needed
    assert BoxAssignmentTask.objects.filter(task=task).count() == task.active_leases
