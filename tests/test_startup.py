"""config/startup.py: a web process and a Celery worker process start with their long-lived
objects frozen out of the cyclic collector."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import gc
{load}
print(gc.get_freeze_count())
"""


def _frozen_after(load: str) -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(load=load)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return int(out.stdout)


def test_the_wsgi_application_starts_with_views_and_serializers_frozen():
    # When gunicorn imports the WSGI module
    frozen = _frozen_after("import config.wsgi")

    # Then the modules loaded at start (the URL configuration pulls in every view) are frozen:
    # tens of thousands of objects no full collection walks again
    assert frozen > 50_000


def test_a_celery_worker_process_freezes_after_its_init_signal():
    load = (
        "import django; django.setup()\n"
        "from config.celery import app\n"
        "from celery.signals import worker_process_init\n"
        "assert gc.get_freeze_count() == 0\n"
        "worker_process_init.send(sender=None)"
    )
    frozen = _frozen_after(load)
    assert frozen > 50_000
