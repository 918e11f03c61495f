"""Builders for box tests: a labeling project whose images are accepted, brought into the loop."""

from __future__ import annotations

import itertools

from boxes.services import box_images_sync
from labeling.models import Item, Project
from labeling.roles import annotator_create
from tests.factories import project_make

_names = itertools.count()


def boxed_project(
    *, images: int = 4, synsets: int = 1, with_files: bool = False, **settings
) -> Project:
    """A project whose ``images`` per synset are accepted and waiting for their first box
    (candidates are 96×72 pixels)."""
    project = project_make(synsets=synsets, images=images, with_files=with_files, **settings)
    Item.objects.filter(project=project).update(state=Item.State.ACCEPTED, votes_needed=0)
    box_images_sync(project=project)
    return project


def workers(n: int) -> list:
    return [annotator_create(username=f"bw{next(_names)}", password="pw-box-123") for _ in range(n)]
