"""No pickle anywhere (CVAT's pickle RCE, docs/architecture.md §6): Celery accepts JSON only, in
this process and in a worker's configuration, and no module imports pickle or its relatives."""

from __future__ import annotations

import re
from pathlib import Path

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]
UNSAFE = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|shelve|marshal)\b|"
                    r"yaml\.load\(|jsonpickle|PickleSerializer", re.M)  # fmt: skip


def test_celery_accepts_and_sends_json_only():
    assert list(app.conf.accept_content) == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert list(app.conf.result_accept_content or ["json"]) == ["json"]


def test_no_module_uses_pickle():
    offenders = []
    for folder in ("config", "synsets", "candidates", "labeling"):
        for path in (ROOT / folder).rglob("*.py"):
            if UNSAFE.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_sessions_use_json():
    from django.conf import settings

    assert settings.SESSION_SERIALIZER == "django.contrib.sessions.serializers.JSONSerializer"
