"""The Celery application; tasks live in each app's tasks.py and are thin wrappers over services."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("synsetlab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_after_startup(**_kwargs) -> None:
    """Each worker process: see ``config.startup``."""
    from config.startup import warm_up_and_freeze

    warm_up_and_freeze()
