"""Moved to ``tests/factories.py`` (``ProjectFactory``, ``project_make``, ``candidates_make``); this
name stays only for test files written before the move. Import from ``tests.factories``."""

from tests.factories import candidates_make, project_make

__all__ = ["candidates_make", "project_make"]
