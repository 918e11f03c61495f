"""A project's box settings, created with defaults on first use."""

from __future__ import annotations

from labeling.models import Project

from .models import BoxProject


def box_settings_get(*, project: Project) -> BoxProject:
    config, _ = BoxProject.objects.get_or_create(project=project)
    return config
