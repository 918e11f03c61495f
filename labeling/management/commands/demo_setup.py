"""`python manage.py demo_setup`: demo accounts (credentials printed) for `make run`."""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from labeling.demo import demo_project_ensure, demo_truth_write
from labeling.roles import admin_create, annotator_create


def _demo_credentials() -> dict[str, str]:
    """Generated once per checkout and kept in var/ (never committed), so restarts keep them."""
    path = settings.VAR_DIR / "demo_credentials.json"
    if path.exists():
        return json.loads(path.read_text())
    credentials = {
        "admin": secrets.token_urlsafe(9),
        "annotator": secrets.token_urlsafe(9),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(credentials))
    path.chmod(0o600)
    return credentials


class Command(BaseCommand):
    help = "Create the demo accounts (credentials printed), images, collection and project."

    def handle(self, *args, **options):
        credentials = _demo_credentials()
        admin_create(username="admin", password=credentials["admin"])
        annotator_create(username="annotator", password=credentials["annotator"])
        project = demo_project_ensure(say=self.stdout.write)
        truth = settings.VAR_DIR / "demo-truth.csv"
        rows = demo_truth_write(project, truth)
        self.stdout.write(f"Simulator truth for {rows} images: {truth}")
        self.stdout.write(
            self.style.SUCCESS(
                "Demo accounts — admin: admin / {admin}   annotator: annotator / {annotator}"
                .format(
                    **credentials
                )
            )
        )
